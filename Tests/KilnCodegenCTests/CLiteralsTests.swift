// cFloat's own hex-float writer against C's %a as Foundation's String(format:) prints it.
import Foundation
import KilnTestSupport
import Testing

@testable import KilnCodegenC

@Suite struct CLiteralsTests {
  /// Every kind of float: zeros, infinities, NaN, subnormals, the extremes, powers of two (no fraction digits)
  /// and 100,000 random bit patterns of both signs; each must be spelled as glibc's "%af" spells it.
  @Test func floatLiteralsAreCsHexFloats() {
    var random = SeededRandom(seed: 600)
    var values: [Float] = [
      1, -1, 0.5, 2, 3, 0.1, -0.1, .pi, .ulpOfOne, .leastNonzeroMagnitude, -.leastNonzeroMagnitude,
      .leastNormalMagnitude, .greatestFiniteMagnitude, -.greatestFiniteMagnitude, Float(bitPattern: 0x007F_FFFF),
    ]
    for _ in 0..<100_000 { values.append(Float(bitPattern: UInt32.random(in: 0...UInt32.max, using: &random))) }
    var mismatches: [String] = []
    for x in values where x.isFinite && x != 0 {
      let expected = String(format: "%af", Double(x))
      if cFloat(x) != expected { mismatches.append("\(x.bitPattern): \(cFloat(x)) != \(expected)") }
    }
    #expect(mismatches.isEmpty, "\(mismatches.prefix(5))")
    #expect(cFloat(Float(0)) == "0.0f" && cFloat(-Float(0)) == "-0.0f")
    #expect(cFloat(Float.infinity) == "INFINITY" && cFloat(-Float.infinity) == "-INFINITY")
    #expect(cFloat(Float.nan) == "NAN")
  }
}
