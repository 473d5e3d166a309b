// A small deterministic random generator for test inputs, so every failure reproduces.
import KilnIR

/// SplitMix64: fast, seedable, and the same on every platform.
public struct SeededRandom: RandomNumberGenerator, Sendable {
  var state: UInt64
  public init(seed: UInt64) { state = seed }

  public mutating func next() -> UInt64 {
    state &+= 0x9E37_79B9_7F4A_7C15
    var z = state
    z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
    z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
    return z ^ (z >> 31)
  }

  /// A tensor of uniform values in [low, high).
  public mutating func tensor(_ shape: [Int], low: Float = -1, high: Float = 1) -> Tensor {
    let n = shape.reduce(1, *)
    return Tensor(shape: shape, data: (0..<n).map { _ in Float.random(in: low..<high, using: &self) })
  }
}
