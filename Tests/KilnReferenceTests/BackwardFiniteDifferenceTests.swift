// The finite-difference machinery of the backward tests: VJP cases, central differences in Double, kink skipping.
import KilnIR
import KilnReference
import Testing

/// One op's VJP under test: its Double forward over `inputs` (operands, then parameters), its Double VJP
/// (a gradient per input, nil for one without), its Float VJP, and where its kinks are.
struct VJPCase: Sendable, CustomTestStringConvertible {
  let name: String
  let inputs: [DoubleTensor]
  let forward: @Sendable ([DoubleTensor]) throws -> DoubleTensor
  let vjp: @Sendable ([DoubleTensor], DoubleTensor) throws -> [DoubleTensor?]
  let floatVJP: @Sendable ([Tensor], Tensor) throws -> [Tensor?]
  /// Which smooth piece of the op the inputs are in (ReLU regions, max-pool winners, signs of x − t); nil for
  /// an op smooth everywhere. A point whose piece changes within ±1e-3 lies within 1e-3 of a kink.
  var pieces: (@Sendable ([DoubleTensor]) throws -> [Int])? = nil

  var testDescription: String { name }
}

/// Seeded uniform Double values in [low, high).
func randomDoubles(_ shape: [Int], seed: UInt64, low: Double = -1, high: Double = 1) -> DoubleTensor {
  var rng = SplitMix(seed)
  var t = DoubleTensor(zeros: shape)
  t.data = t.data.map { _ in low + (high - low) * Double(rng.nextBits() >> 11) * 0x1p-53 }
  return t
}

/// The outcome of one finite-difference check, for the tests to expect on.
struct FiniteDifferenceReport {
  var checked = 0
  var skipped = 0
  /// The worst |analytic − numeric| / (1e-5·max(|numeric|, |analytic|) + 1e-7·largest), ≤ 1 passes.
  var worst = (ratio: 0.0, input: 0, index: 0, analytic: 0.0, numeric: 0.0)
}

/// Central differences of L(inputs) = Σ r ⊙ forward(inputs), r a seeded random projection of the output,
/// against the VJP with dy = r, at every element of inputs with at most 48 elements and at 48 seeded
/// elements of larger ones. Points within 1e-3 of a kink (their `pieces` change when moved by ±1e-3)
/// are skipped.
///
/// Tolerance: |analytic − numeric| ≤ 1e-5·max(|numeric|, |analytic|) + 1e-7·(largest |gradient| of that input).
/// With h = 1e-5·max(1, |x|) in Double, central differences err by O(h²·L''') ≈ 1e-10 (truncation) plus
/// ≈ 1e-16·|L|/h ≈ 1e-11·|L| (rounding), both far below the bound, so only a wrong formula can exceed it.
func finiteDifferences(_ c: VJPCase, seed: UInt64) throws -> FiniteDifferenceReport {
  let y = try c.forward(c.inputs)
  let r = randomDoubles(y.shape, seed: seed)
  func objective(_ xs: [DoubleTensor]) throws -> Double {
    zip(try c.forward(xs).data, r.data).reduce(0) { $0 + $1.0 * $1.1 }
  }
  let analytic = try c.vjp(c.inputs, r)
  var report = FiniteDifferenceReport()
  var rng = SplitMix(seed ^ 0xA5A5)
  for (k, input) in c.inputs.enumerated() {
    guard let gradient = analytic[k] else { continue }
    #expect(gradient.shape == input.shape, "\(c.name): gradient \(k) has shape \(gradient.shape)")
    let largest = gradient.data.reduce(0) { max($0, abs($1)) }
    let points = input.count <= 48 ? Array(0..<input.count) : (0..<48).map { _ in rng.next(in: 0...(input.count - 1)) }
    for i in points {
      var xs = c.inputs
      func at(_ delta: Double) -> [DoubleTensor] {
        var moved = xs
        moved[k].data[i] = c.inputs[k].data[i] + delta
        return moved
      }
      if let pieces = c.pieces, try pieces(at(-1e-3)) != pieces(at(1e-3)) {
        report.skipped += 1
        continue
      }
      let h = 1e-5 * max(1, abs(input.data[i]))
      xs = at(h)
      let plus = try objective(xs)
      xs = at(-h)
      let numeric = (plus - (try objective(xs))) / (2 * h)
      let bound = 1e-5 * max(abs(numeric), abs(gradient.data[i])) + 1e-7 * max(largest, 1e-12)
      let ratio = abs(gradient.data[i] - numeric) / bound
      report.checked += 1
      if !(ratio <= report.worst.ratio) { report.worst = (ratio, k, i, gradient.data[i], numeric) }
    }
  }
  return report
}

/// Runs `finiteDifferences` and expects it to pass, with at most a fifth of the points skipped at kinks.
func expectFiniteDifferences(
  _ c: VJPCase, seed: UInt64 = 7, sourceLocation: Testing.SourceLocation = #_sourceLocation
) throws {
  let report = try finiteDifferences(c, seed: seed)
  let w = report.worst
  #expect(report.checked > 0, "\(c.name): no point was checked", sourceLocation: sourceLocation)
  #expect(
    report.skipped * 5 <= report.checked + report.skipped,
    "\(c.name): \(report.skipped) of \(report.checked + report.skipped) points lie near kinks",
    sourceLocation: sourceLocation)
  #expect(
    w.ratio <= 1,
    "\(c.name): input \(w.input)[\(w.index)]: analytic \(w.analytic) vs central difference \(w.numeric)",
    sourceLocation: sourceLocation)
}

/// Expects the Float VJP on the inputs rounded to Float to agree with the Double VJP: every element within
/// 1e-4·max(|double|, largest |gradient| of that input · 1e-2) — relative, floored at 1% of the largest
/// gradient, since an element far below the largest is the difference of Float-rounded terms of its size.
func expectFloatAgrees(_ c: VJPCase, seed: UInt64 = 11, sourceLocation: Testing.SourceLocation = #_sourceLocation)
  throws
{
  let y = try c.forward(c.inputs)
  let r = randomDoubles(y.shape, seed: seed)
  let double = try c.vjp(c.inputs, r)
  let float = try c.floatVJP(c.inputs.map(\.float), r.float)
  #expect(double.count == float.count, sourceLocation: sourceLocation)
  for (k, (d, f)) in zip(double, float).enumerated() {
    #expect(
      (d == nil) == (f == nil), "\(c.name): gradient \(k) present in one form only", sourceLocation: sourceLocation)
    guard let d, let f else { continue }
    #expect(d.shape == f.shape, sourceLocation: sourceLocation)
    let largest = d.data.reduce(0) { max($0, abs($1)) }
    let worst = zip(d.data, f.data).enumerated().max {
      abs($0.1.0 - Double($0.1.1)) < abs($1.1.0 - Double($1.1.1))
    }
    guard let (i, (dv, fv)) = worst else { continue }
    #expect(
      abs(dv - Double(fv)) <= 1e-4 * max(abs(dv), 1e-2 * largest),
      "\(c.name): gradient \(k)[\(i)]: Float \(fv) vs Double \(dv)", sourceLocation: sourceLocation)
  }
}

@Suite struct BackwardFiniteDifferenceTests {
  /// The checker itself must fail a wrong gradient: dense's dx scaled by 1.001 is caught.
  @Test func aWrongGradientIsCaught() throws {
    let x = randomDoubles([2, 3], seed: 1)
    let w = randomDoubles([4, 3], seed: 2)
    let wrong = VJPCase(
      name: "dense with dx off by 0.1%", inputs: [x, w],
      forward: { try DoubleReferenceOps.dense($0[0], weight: $0[1], bias: nil) },
      vjp: { xs, dy in
        var r = try ReferenceGradients.dense(dy: dy, x: xs[0], weight: xs[1], bias: nil)
        r.dx.data = r.dx.data.map { $0 * 1.001 }
        return [r.dx, r.dWeight]
      },
      floatVJP: { _, _ in [] })
    #expect(try finiteDifferences(wrong, seed: 3).worst.ratio > 1)
  }

  /// A point at a kink is skipped, not failed: relu at exactly 0 (derivative 0 there, as PyTorch).
  @Test func pointsAtAKinkAreSkipped() throws {
    let x = try DoubleTensor(shape: [1, 4], data: [0, 0.5, -0.5, 2])
    let relu = VJPCase(
      name: "relu", inputs: [x], forward: { try DoubleReferenceOps.activation($0[0], .relu) },
      vjp: { [try ReferenceGradients.activation(dy: $1, x: $0[0], .relu)] }, floatVJP: { _, _ in [] },
      pieces: { xs in xs[0].data.map { $0 > 0 ? 1 : 0 } })
    let report = try finiteDifferences(relu, seed: 1)
    #expect(report.skipped == 1 && report.checked == 3 && report.worst.ratio <= 1)
    #expect(
      try ReferenceGradients.activation(
        dy: DoubleTensor(shape: [1, 1], data: [1]), x: DoubleTensor(shape: [1, 1], data: [0]), .relu
      ).data == [0])
  }
}
