// Small helpers for the reference tests: building tensors and comparing them with a tolerance.
import KilnIR
import Testing

/// A tensor from nested rows: `tensor([1, 1, 2, 2], [[1, 2], [3, 4]])`.
func tensor(_ shape: [Int], _ rows: [[Float]]) -> Tensor { Tensor(shape: shape, data: rows.flatMap { $0 }) }

/// A tensor from flat values.
func tensor(_ shape: [Int], _ values: [Float]) -> Tensor { Tensor(shape: shape, data: values) }

/// A tensor of small integers in -range...range from a seeded generator: sums of their products are exact
/// in Float, so results can be compared with ==.
func integerTensor(_ shape: [Int], seed: UInt64, range: Int = 3) -> Tensor {
  var rng = SplitMix(seed)
  return Tensor(shape: shape, data: (0..<shape.reduce(1, *)).map { _ in Float(rng.next(in: -range...range)) })
}

/// A tensor of uniform values in [low, high) from a seeded generator.
func randomTensor(_ shape: [Int], seed: UInt64, low: Float = -1, high: Float = 1) -> Tensor {
  var rng = SplitMix(seed)
  return Tensor(shape: shape, data: (0..<shape.reduce(1, *)).map { _ in low + (high - low) * rng.unit() })
}

/// A tiny deterministic generator for test data (independent of the dropout hash under test).
struct SplitMix {
  var state: UInt64
  init(_ seed: UInt64) { state = seed }
  mutating func nextBits() -> UInt64 {
    state &+= 0x9E37_79B9_7F4A_7C15
    var z = state
    z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
    z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
    return z ^ (z >> 31)
  }
  mutating func next(in range: ClosedRange<Int>) -> Int {
    range.lowerBound + Int(nextBits() % UInt64(range.count))
  }
  mutating func unit() -> Float { Float(nextBits() >> 40) / Float(1 << 24) }
}

/// Expects equal shapes and every element within `tolerance` (absolute), reporting the worst element.
func expectClose(
  _ actual: Tensor, _ expected: Tensor, tolerance: Float = 1e-5,
  sourceLocation: Testing.SourceLocation = #_sourceLocation
) {
  #expect(actual.shape == expected.shape, sourceLocation: sourceLocation)
  guard actual.shape == expected.shape else { return }
  var worst = (error: Float(0), index: 0)
  for i in actual.data.indices {
    let e = abs(actual.data[i] - expected.data[i])
    if !(e <= worst.error) { worst = (e, i) }
  }
  #expect(
    worst.error <= tolerance,
    "max abs error \(worst.error) at flat index \(worst.index): \(actual.data[worst.index]) vs \(expected.data[worst.index])",
    sourceLocation: sourceLocation)
}

/// Expects two doubles within `tolerance`.
func expectClose(
  _ actual: Double, _ expected: Double, tolerance: Double = 1e-6,
  sourceLocation: Testing.SourceLocation = #_sourceLocation
) {
  #expect(abs(actual - expected) <= tolerance, "\(actual) vs \(expected)", sourceLocation: sourceLocation)
}
