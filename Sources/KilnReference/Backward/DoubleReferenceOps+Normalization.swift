// The Double forward of batch norm, LRN and the losses, for finite-difference checks of their gradients.
import Foundation
import KilnIR

extension DoubleReferenceOps {
  /// Per-channel mean and biased variance over N and the spatial axes, the batch statistics of training.
  static func batchStatistics(_ x: DoubleTensor) throws -> (mean: [Double], variance: [Double]) {
    let (outer, channels, inner) = try channelView("batchnorm", x.shape)
    let m = Double(outer * inner)
    var mean = [Double](repeating: 0, count: channels)
    var variance = [Double](repeating: 0, count: channels)
    for i in x.data.indices { mean[(i / inner) % channels] += x.data[i] }
    for c in 0..<channels { mean[c] /= m }
    for i in x.data.indices {
      let d = x.data[i] - mean[(i / inner) % channels]
      variance[(i / inner) % channels] += d * d
    }
    for c in 0..<channels { variance[c] /= m }
    return (mean, variance)
  }

  /// Batch norm with the given statistics: y = (x − mean[c]) / √(variance[c] + ε) · γ[c] + β[c].
  /// Training mode passes the batch statistics of `batchStatistics`, inference the running ones.
  public static func batchNorm(
    _ x: DoubleTensor, weight: DoubleTensor, bias: DoubleTensor, mean: [Double], variance: [Double], epsilon: Double
  ) throws -> DoubleTensor {
    let (_, channels, inner) = try channelView("batchnorm", x.shape)
    for (name, v) in [("weight", weight.data), ("bias", bias.data), ("mean", mean), ("variance", variance)] {
      try Shapes.requireShape("batchnorm", name, [v.count], [channels])
    }
    let y = x.data.indices.map { i in
      let c = (i / inner) % channels
      return (x.data[i] - mean[c]) / (variance[c] + epsilon).squareRoot() * weight.data[c] + bias.data[c]
    }
    return DoubleTensor(checked: x.shape, y)
  }

  /// Training-mode batch norm: normalized by the batch's own statistics (m = N·H·W ≥ 2 values per channel).
  public static func batchNormTraining(
    _ x: DoubleTensor, weight: DoubleTensor, bias: DoubleTensor, _ attrs: BatchNorm
  ) throws -> DoubleTensor {
    let (outer, _, inner) = try channelView("batchnorm", x.shape)
    guard outer * inner >= 2 else {
      throw ReferenceError(
        "batchnorm: input \(Shapes.format(x.shape)) has \(outer * inner) value per channel; training needs at least 2")
    }
    let (mean, variance) = try batchStatistics(x)
    return try batchNorm(x, weight: weight, bias: bias, mean: mean, variance: variance, epsilon: attrs.epsilon)
  }

  /// nn.LocalResponseNorm (see `ReferenceOps.lrn`): b_c = a_c / (k + α/size · Σ_window a²)^β.
  public static func lrn(_ x: DoubleTensor, _ l: LRN) throws -> DoubleTensor {
    let denominators = try lrnDenominators(x, l)
    return DoubleTensor(checked: x.shape, x.data.indices.map { x.data[$0] / pow(denominators[$0], l.beta) })
  }

  /// D_c = k + α/size · Σ_{c' = c − ⌊size/2⌋ … c + ⌊(size−1)/2⌋, within 0..<C} a_{c'}², per element.
  static func lrnDenominators(_ x: DoubleTensor, _ l: LRN) throws -> [Double] {
    let (outer, channels, inner) = try channelView("lrn", x.shape)
    guard l.size >= 1 else { throw ReferenceError("lrn: size \(l.size) must be at least 1") }
    var d = [Double](repeating: 0, count: x.count)
    for s in 0..<outer {
      for c in 0..<channels {
        for e in 0..<inner {
          var sum = 0.0
          for c2 in max(c - l.size / 2, 0)...min(c + (l.size - 1) / 2, channels - 1) {
            let v = x.data[(s * channels + c2) * inner + e]
            sum += v * v
          }
          d[(s * channels + c) * inner + e] = l.k + l.alpha / Double(l.size) * sum
        }
      }
    }
    return d
  }

  /// The batch-averaged loss (formulas of `ReferenceOps.loss`); class labels for softmax_cross_entropy.
  public static func loss(_ kind: LossKind, prediction x: DoubleTensor, target: AnyTensor) throws -> Double {
    _ = try Shapes.loss(kind, prediction: x.shape, target: target.shape, targetType: target.dtype)
    switch (kind, target) {
    case (.softmaxCrossEntropy, .i64(let labels)):
      let logProbabilities = softmax(x, log: true)
      let classes = x.shape[1]
      var total = 0.0
      for (s, label) in labels.data.enumerated() {
        try ReferenceGradients.checkLabel(label, sample: s, classes: classes, kind)
        total -= logProbabilities.data[s * classes + Int(label)]
      }
      return total / Double(x.shape[0])
    case (.binaryCrossEntropyWithLogits, .f32(let t)):
      return mean(x, t) { x, t in max(x, 0) - x * t + log1p(exp(-abs(x))) }
    case (.meanSquaredError, .f32(let t)):
      return mean(x, t) { x, t in (x - t) * (x - t) }
    case (.meanAbsoluteError, .f32(let t)):
      return mean(x, t) { x, t in abs(x - t) }
    case (.softmaxCrossEntropy, .f32), (.binaryCrossEntropyWithLogits, .i64), (.meanSquaredError, .i64),
      (.meanAbsoluteError, .i64):
      throw ReferenceError("\(kind.rawValue): target has element type \(target.dtype.rawValue)")
    }
  }

  private static func mean(_ x: DoubleTensor, _ t: Tensor, _ term: (Double, Double) -> Double) -> Double {
    zip(x.data, t.data).reduce(0.0) { $0 + term($1.0, Double($1.1)) } / Double(x.count)
  }

  /// [outer = N, channels = C, inner = H·W·…] of a rank ≥ 2 shape.
  static func channelView(_ op: String, _ shape: [Int]) throws -> (outer: Int, channels: Int, inner: Int) {
    let shape = try Shapes.channelwise(op, input: shape)
    return (shape[0], shape[1], shape.dropFirst(2).reduce(1, *))
  }
}
