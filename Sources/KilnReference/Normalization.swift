// The reference normalizations: batch norm (inference and training) and local response normalization.
import Foundation
import KilnIR

/// What a training-mode batch norm produces: the output, the batch statistics, and the updated running stats.
public struct BatchNormTrainingResult: Hashable, Sendable {
  /// The normalized output, shaped like the input.
  public var output: Tensor
  /// Per-channel batch mean [C].
  public var batchMean: Tensor
  /// Per-channel biased batch variance [C] (divided by m), the one used to normalize.
  public var batchVariance: Tensor
  /// (1 − momentum)·running_mean + momentum·batchMean.
  public var runningMean: Tensor
  /// (1 − momentum)·running_var + momentum·(unbiased batch variance, divided by m − 1).
  public var runningVar: Tensor
}

extension ReferenceOps {
  /// The input viewed as [outer = N, channels = C, inner = H·W·…], as every op over dimension 1 walks it.
  static func channelView(_ op: String, _ x: Tensor) throws -> (outer: Int, channels: Int, inner: Int) {
    let shape = try Shapes.channelwise(op, input: x.shape)
    return (shape[0], shape[1], shape.dropFirst(2).reduce(1, *))
  }

  /// Inference-mode nn.BatchNorm1d/2d over dimension 1 ([N, C] or [N, C, H, W]):
  /// y = (x − running_mean[c]) / √(running_var[c] + ε) · γ[c] + β[c].
  public static func batchNormInference(
    _ x: Tensor, weight: Tensor, bias: Tensor, runningMean: Tensor, runningVar: Tensor, _ attrs: BatchNorm
  ) throws -> Tensor {
    let (_, channels, _) = try channelView("batchnorm", x)
    try requireChannelVectors(
      channels, ["weight": weight, "bias": bias, "running_mean": runningMean, "running_var": runningVar])
    return normalize(
      x, mean: runningMean.data.map(Double.init), variance: runningVar.data.map(Double.init),
      weight: weight, bias: bias, epsilon: attrs.epsilon)
  }

  /// Training-mode batch norm: normalize with the batch statistics over N and the spatial axes
  /// (m = N·H·W values per channel), mean μ = Σx/m and biased variance σ² = Σ(x − μ)²/m, then update
  ///
  ///     running_mean ← (1 − momentum)·running_mean + momentum·μ
  ///     running_var  ← (1 − momentum)·running_var  + momentum·σ²·m/(m − 1)   (unbiased, as PyTorch)
  ///
  /// Needs m ≥ 2, as PyTorch does ("expected more than 1 value per channel when training").
  public static func batchNormTraining(
    _ x: Tensor, weight: Tensor, bias: Tensor, runningMean: Tensor, runningVar: Tensor, _ attrs: BatchNorm
  ) throws -> BatchNormTrainingResult {
    let (outer, channels, inner) = try channelView("batchnorm", x)
    try requireChannelVectors(
      channels, ["weight": weight, "bias": bias, "running_mean": runningMean, "running_var": runningVar])
    let m = outer * inner
    guard m >= 2 else {
      throw ReferenceError(
        "batchnorm: input \(Shapes.format(x.shape)) has \(m) value per channel; training needs at least 2")
    }
    var mean = [Double](repeating: 0, count: channels)
    var variance = [Double](repeating: 0, count: channels)
    for c in 0..<channels {
      var sum = 0.0
      for s in 0..<outer {
        for v in x.data[((s * channels + c) * inner)..<((s * channels + c + 1) * inner)] { sum += Double(v) }
      }
      mean[c] = sum / Double(m)
      var squares = 0.0
      for s in 0..<outer {
        for v in x.data[((s * channels + c) * inner)..<((s * channels + c + 1) * inner)] {
          squares += (Double(v) - mean[c]) * (Double(v) - mean[c])
        }
      }
      variance[c] = squares / Double(m)
    }
    let k = attrs.momentum
    let unbias = Double(m) / Double(m - 1)
    return BatchNormTrainingResult(
      output: normalize(x, mean: mean, variance: variance, weight: weight, bias: bias, epsilon: attrs.epsilon),
      batchMean: Tensor(shape: [channels], data: mean.map { Float($0) }),
      batchVariance: Tensor(shape: [channels], data: variance.map { Float($0) }),
      runningMean: Tensor(
        shape: [channels], data: (0..<channels).map { Float((1 - k) * Double(runningMean.data[$0]) + k * mean[$0]) }),
      runningVar: Tensor(
        shape: [channels],
        data: (0..<channels).map { Float((1 - k) * Double(runningVar.data[$0]) + k * variance[$0] * unbias) }))
  }

  /// nn.LocalResponseNorm across channels (dimension 1 of a rank ≥ 2 input):
  ///
  ///     b_c = a_c / (k + α/size · Σ_{c' = c − ⌊size/2⌋ … c + ⌊(size−1)/2⌋, within 0..<C} a_{c'}²)^β
  ///
  /// Channels beyond the edges are zero padding: they add nothing to the sum but still count in /size.
  public static func lrn(_ x: Tensor, _ l: LRN) throws -> Tensor {
    let (outer, channels, inner) = try channelView("lrn", x)
    guard l.size >= 1 else { throw ReferenceError("lrn: size \(l.size) must be at least 1") }
    var y = [Float](repeating: 0, count: x.count)
    for s in 0..<outer {
      for c in 0..<channels {
        let lo = max(c - l.size / 2, 0)
        let hi = min(c + (l.size - 1) / 2, channels - 1)
        for e in 0..<inner {
          var sum = 0.0
          for c2 in lo...hi {
            let v = Double(x.data[(s * channels + c2) * inner + e])
            sum += v * v
          }
          let index = (s * channels + c) * inner + e
          y[index] = Float(Double(x.data[index]) / pow(l.k + l.alpha / Double(l.size) * sum, l.beta))
        }
      }
    }
    return Tensor(shape: x.shape, data: y)
  }

  /// y = (x − mean[c]) / √(variance[c] + ε) · γ[c] + β[c], computed in Double.
  private static func normalize(
    _ x: Tensor, mean: [Double], variance: [Double], weight: Tensor, bias: Tensor, epsilon: Double
  ) -> Tensor {
    let channels = x.shape[1]
    let inner = x.shape.dropFirst(2).reduce(1, *)
    var y = [Float](repeating: 0, count: x.count)
    for index in y.indices {
      let c = (index / inner) % channels
      let normalized = (Double(x.data[index]) - mean[c]) / (variance[c] + epsilon).squareRoot()
      y[index] = Float(normalized * Double(weight.data[c]) + Double(bias.data[c]))
    }
    return Tensor(shape: x.shape, data: y)
  }

  private static func requireChannelVectors(_ channels: Int, _ vectors: KeyValuePairs<String, Tensor>) throws {
    for (name, t) in vectors { try Shapes.requireShape("batchnorm", name, t.shape, [channels]) }
  }
}
