// Seeded fuzzing of the C loaders: hundreds of damaged files in one ASan/UBSan run each, checked against Swift.
import Foundation
import KilnCodegenC
import KilnData
import KilnIR
import KilnTestSupport
import Testing

@Suite struct RuntimeFuzzTests {
  typealias F = SafeTensorsFixtures

  /// `base` damaged in one of a few ways: flipped bits, random or JSON-significant bytes, a cut, a changed length.
  static func mutate(_ base: [UInt8], _ random: inout SeededRandom) -> [UInt8] {
    var bytes = base
    let significant = Array(#"{}[]",:\"0-9eu."#.utf8)
    switch random.next() % 5 {
    case 0:
      for _ in 0...(random.next() % 4) { bytes[Int(random.next() % UInt64(bytes.count))] ^= 1 << (random.next() % 8) }
    case 1:
      for _ in 0...(random.next() % 3) {
        bytes[Int(random.next() % UInt64(bytes.count))] = UInt8(truncatingIfNeeded: random.next())
      }
    case 2:
      bytes[8 + Int(random.next() % UInt64(bytes.count - 8))] =
        significant[Int(random.next() % UInt64(significant.count))]
    case 3:
      bytes = Array(bytes.prefix(Int(random.next() % UInt64(bytes.count))))
    default:
      let delta = Int64(random.next() % 17) - 8
      let length = Int64(
        bitPattern: bytes.prefix(8).enumerated().reduce(UInt64(0)) { $0 | UInt64($1.element) << (8 * $1.offset) })
      bytes.replaceSubrange(0..<8, with: F.littleEndian(UInt64(bitPattern: length + delta)))
    }
    return bytes
  }

  /// The floats a file holds for the fixture table, read by KilnData's reader; nil when it refuses the file
  /// or when its tensors are not exactly the table's.
  static func swiftReading(_ bytes: [UInt8]) -> [UInt32]? {
    guard let contents = try? SafeTensors.decode(bytes, path: "mutant") else { return nil }
    var byName: [String: Tensor] = [:]
    for t in contents.tensors {
      if case .f32(let f) = t.tensor {
        byName[t.name] = f
      } else if !t.name.hasSuffix(".num_batches_tracked") {
        return nil
      }
    }
    guard byName.count == F.table.count else { return nil }
    var bits: [UInt32] = []
    for (name, shape) in F.table {
      guard let t = byName[name], t.shape == shape else { return nil }
      bits += t.data.map(\.bitPattern)
    }
    return bits
  }

  @Test func damagedSafeTensorsNeverCrashAndAgreeWithTheSwiftReader() throws {
    var random = SeededRandom(seed: 2024)
    let counter = NamedTensor("bn1.num_batches_tracked", .i64(IntTensor(shape: [], data: [3])))
    let bases = [try F.valid(), try F.valid(extra: [counter]), F.file(F.converted("F16").entries)]
    let mutants = (0..<300).map { i in Self.mutate(bases[i % bases.count], &random) }
    let dir = try PackagePaths.temporaryDirectory("kiln-runtime-fuzz")
    defer { try? FileManager.default.removeItem(at: dir) }
    let results = try RuntimeDriver.sanitized.get().loadSafeTensors(F.table, files: try F.write(mutants, in: dir))
    var loaded = 0
    for (i, (result, bytes)) in zip(results, mutants).enumerated() {
      let expected = Self.swiftReading(bytes)
      guard let status = result.status, status != .nullArgument, status != .invalidArgument, status != .outOfMemory
      else {
        Issue.record("mutant \(i): unexpected code \(result.code): \(result.detail)")
        continue
      }
      if status == .ok {
        loaded += 1
        // Swift converts F16 NaNs with its own payload rule; any NaN matches any NaN.
        let same = expected.map { e in
          zip(e, result.bits).allSatisfy { a, b in a == b || (Float(bitPattern: a).isNaN && Float(bitPattern: b).isNaN)
          }
        }
        #expect(same == true, "mutant \(i): C loaded it but KilnData's reader does not agree")
      } else {
        #expect(!result.detail.isEmpty, "mutant \(i): \(status) without a detail")
        #expect(result.untouched || status == .io, "mutant \(i): params written before \(status)")
        #expect(expected == nil, "mutant \(i): KilnData reads it but C says \(result)")
      }
    }
    #expect(
      loaded > 0 && loaded < mutants.count, "the mutants should include files that still load and files that do not")
  }

  @Test func damagedWeightsFilesNeverCrashOrLoadWrongData() throws {
    var random = SeededRandom(seed: 99)
    let params = random.tensor([64], low: -2, high: 2).data
    let base = try WeightsFile.encode(network: "fuzznet", fingerprint: 42, params: params)
    let mutants = (0..<150).map { _ in Self.mutate(base, &random) }
    let dir = try PackagePaths.temporaryDirectory("kiln-runtime-fuzz-wt")
    defer { try? FileManager.default.removeItem(at: dir) }
    let paths = try mutants.enumerated().map { i, bytes in
      let url = dir.appendingPathComponent("w\(i)")
      try Data(bytes).write(to: url)
      return url.path
    }
    let results = try RuntimeDriver.sanitized.get().loadWeights(
      network: "fuzznet", fingerprint: 42, count: 64, files: paths)
    for (i, result) in results.enumerated() {
      let known: Set<RuntimeStatus> = [.ok, .format, .size, .wrongNetwork, .checksum]
      #expect(result.status.map(known.contains) == true, "mutant \(i): \(result)")
      if result.status == .ok {
        #expect(result.bits == params.map(\.bitPattern), "mutant \(i) loaded different data")
      }
    }
  }
}
