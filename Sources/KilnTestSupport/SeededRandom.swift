// Seeded random test inputs, so every failure reproduces.
import KilnData
import KilnIR

/// KilnData's SplitMix64 with helpers for making test tensors.
public typealias SeededRandom = SplitMix64

extension SplitMix64 {
  /// A tensor of uniform values in [low, high).
  public mutating func tensor(_ shape: [Int], low: Float = -1, high: Float = 1) -> Tensor {
    let n = shape.reduce(1, *)
    return Tensor(shape: shape, data: (0..<n).map { _ in Float.random(in: low..<high, using: &self) })
  }
}
