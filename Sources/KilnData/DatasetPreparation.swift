// Preparing samples for training: standardization fitted on the training split, seeded shuffles, validation split, mini-batches.
//
// Images need no scaling here: `IDXDataset.load` already maps pixels from 0…255 to [0, 1].

import KilnIR

/// Feature standardization x ← (x − mean) / std, fitted on the training split only and then applied unchanged to the
/// validation and test splits, so no statistic leaks from them.
///
/// Statistics are computed in Double over the samples (dim 0) of an [N, …] tensor: per feature (each position of
/// the trailing dims, as scikit-learn's StandardScaler) or globally (one mean and std over every element, the usual
/// choice for images). std is the population standard deviation (divisor N); a zero std becomes 1 so a constant
/// feature maps to 0 instead of dividing by zero.
public struct Standardization: Hashable, Sendable {
  /// The mean of each feature (one value when global).
  public var mean: [Double]
  /// The standard deviation of each feature, zeros replaced by 1 (one value when global).
  public var std: [Double]

  /// The statistics of `training` [N, …]; `perFeature` false for a single global mean and std.
  /// Throws when there are no samples or a value is not finite.
  public init(fitting training: Tensor, perFeature: Bool = true) throws {
    guard let n = training.shape.first, n > 0, training.count > 0 else {
      throw DataError(
        path: "standardization", "cannot fit on shape \(training.shape); expected [N, …] with N ≥ 1 samples")
    }
    if let i = training.data.firstIndex(where: { !$0.isFinite }) {
      throw DataError(path: "standardization", "training value \(training.data[i]) at flat index \(i) is not finite")
    }
    let width = perFeature ? training.count / n : 1
    let groups = perFeature ? n : training.count
    var sum = [Double](repeating: 0, count: width)
    for (i, v) in training.data.enumerated() { sum[i % width] += Double(v) }
    mean = sum.map { $0 / Double(groups) }
    var squares = [Double](repeating: 0, count: width)
    for (i, v) in training.data.enumerated() {
      let d = Double(v) - mean[i % width]
      squares[i % width] += d * d
    }
    std = squares.map { s in
      let deviation = (s / Double(groups)).squareRoot()
      return deviation > 0 ? deviation : 1
    }
  }

  /// `samples` [M, …] standardized with these statistics. Throws when the per-sample size differs from the fit's.
  public func applied(to samples: Tensor) throws -> Tensor {
    let width = mean.count
    guard let m = samples.shape.first, width == 1 || samples.count == m * width else {
      throw DataError(
        path: "standardization",
        "samples of shape \(samples.shape) have a different per-sample size than the \(width) features fitted")
    }
    var out = samples
    for i in out.data.indices {
      let f = i % width
      out.data[i] = Float((Double(out.data[i]) - mean[f]) / std[f])
    }
    return out
  }
}

/// Reproducible sample orders: seeded shuffles, the validation split and mini-batches.
public enum SampleOrder {
  /// A permutation of 0..<count by Fisher–Yates (Durstenfeld): for i from count − 1 down to 1, swap element i with
  /// element j drawn uniformly from 0…i. The generator is xoshiro256** seeded with `seed` and the stream name
  /// `"shuffle/<epoch>"` (see `Xoshiro256StarStar.init(seed:stream:)`), so each epoch has its own order, and the
  /// same seed and epoch give the same order on every platform and Swift version.
  public static func shuffled(count: Int, seed: UInt64, epoch: Int = 0) -> [Int] {
    var order = Array(0..<max(count, 0))
    guard order.count > 1 else { return order }
    var rng = Xoshiro256StarStar(seed: seed, stream: "shuffle/\(epoch)")
    for i in stride(from: order.count - 1, through: 1, by: -1) {
      order.swapAt(i, uniform(below: UInt64(i + 1), using: &rng))
    }
    return order
  }

  /// A uniform integer in 0..<bound (bound ≥ 1) without modulo bias: 64-bit draws x are rejected while
  /// x < 2⁶⁴ mod bound, so the accepted range is a whole number of copies of 0..<bound; the result is x mod bound.
  /// (Swift's own `random(in:using:)` is not specified to stay the same across versions.)
  public static func uniform(below bound: UInt64, using rng: inout Xoshiro256StarStar) -> Int {
    let threshold = (0 &- bound) % bound
    while true {
      let x = rng.next()
      if x >= threshold { return Int(x % bound) }
    }
  }

  /// Splits `order` (normally a shuffled one) into a training part and a validation part, the LAST
  /// round(N·fraction) samples (halves rounded up), as Keras's `validation_split` takes the last part.
  /// Throws unless 0 ≤ fraction < 1.
  public static func split(_ order: [Int], validationFraction fraction: Double) throws -> (
    training: [Int], validation: [Int]
  ) {
    guard fraction >= 0, fraction < 1 else {
      throw DataError(path: "validation split", "fraction \(fraction); expected a number in [0, 1)")
    }
    let validation = Int((Double(order.count) * fraction).rounded(.toNearestOrAwayFromZero))
    let cut = order.count - validation
    return (Array(order[..<cut]), Array(order[cut...]))
  }

  /// The mini-batches of `order`, `batchSize` samples each and the rest in a final, smaller batch.
  public static func batches(_ order: [Int], batchSize: Int) throws -> MiniBatches {
    guard batchSize > 0 else { throw DataError(path: "mini-batches", "batch size \(batchSize); expected at least 1") }
    return MiniBatches(order: order, batchSize: batchSize)
  }
}

/// Mini-batches of sample indices in a given order; the last batch holds the remainder (PyTorch's drop_last false).
public struct MiniBatches: Sequence, IteratorProtocol, Sendable {
  /// The sample indices, in order.
  public let order: [Int]
  /// Samples per batch, at least 1.
  public let batchSize: Int
  private var start = 0

  init(order: [Int], batchSize: Int) {
    self.order = order
    self.batchSize = batchSize
  }

  /// The number of batches, ⌈N / batchSize⌉.
  public var count: Int { (order.count + batchSize - 1) / batchSize }

  /// The indices of the next batch, or nil after the last.
  public mutating func next() -> ArraySlice<Int>? {
    guard start < order.count else { return nil }
    let end = Swift.min(start + batchSize, order.count)
    defer { start = end }
    return order[start..<end]
  }
}

extension Tensor {
  /// The samples (slices along dim 0) at `indices`, in that order. Throws when an index is out of range.
  public func samples(at indices: some Collection<Int>) throws -> Tensor {
    guard let n = shape.first else { throw DataError(path: "samples", "a scalar tensor has no samples") }
    let width = n == 0 ? 0 : count / n
    var out: [Float] = []
    out.reserveCapacity(indices.count * width)
    for i in indices {
      guard (0..<n).contains(i) else { throw DataError(path: "samples", "sample index \(i); expected 0..<\(n)") }
      out.append(contentsOf: data[i * width..<(i + 1) * width])
    }
    return Tensor(shape: [indices.count] + shape.dropFirst(), data: out)
  }
}

extension IntTensor {
  /// The samples (slices along dim 0) at `indices`, in that order. Throws when an index is out of range.
  public func samples(at indices: some Collection<Int>) throws -> IntTensor {
    guard let n = shape.first else { throw DataError(path: "samples", "a scalar tensor has no samples") }
    let width = n == 0 ? 0 : data.count / n
    var out: [Int64] = []
    out.reserveCapacity(indices.count * width)
    for i in indices {
      guard (0..<n).contains(i) else { throw DataError(path: "samples", "sample index \(i); expected 0..<\(n)") }
      out.append(contentsOf: data[i * width..<(i + 1) * width])
    }
    return IntTensor(shape: [indices.count] + shape.dropFirst(), data: out)
  }
}
