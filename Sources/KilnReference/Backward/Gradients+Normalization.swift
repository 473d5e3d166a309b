// Vector-Jacobian products of batch norm (training and inference), LRN, dropout and the four losses.
import Foundation
import KilnIR

extension ReferenceGradients {
  /* Batch norm in training mode, per channel over its m = N·H·W values, with the batch statistics
     μ = Σx/m, σ² = Σ(x − μ)²/m, r = 1/√(σ² + ε), x̂ = (x − μ)·r, y = γ·x̂ + β:
       dβ = Σ dy,   dγ = Σ dy·x̂
     and through μ and σ² (∂μ/∂x_i = 1/m, ∂σ²/∂x_i = 2(x_i − μ)/m, ∂r/∂σ² = −r³/2):
       dx̂_i = γ·dy_i
       dσ²  = Σ_j dx̂_j·(x_j − μ)·(−r³/2)
       dμ   = −r·Σ_j dx̂_j                        (the dσ² term vanishes: Σ_j (x_j − μ) = 0)
       dx_i = dx̂_i·r + dσ²·2(x_i − μ)/m + dμ/m
            = γ·r/m · (m·dy_i − dβ − x̂_i·dγ)
     The running statistics are updated by the forward and get no gradient.                              */
  /// The VJP of `ReferenceOps.batchNormTraining` (batch statistics): (∂L/∂x, ∂L/∂γ, ∂L/∂β).
  public static func batchNormTraining(
    dy: DoubleTensor, x: DoubleTensor, weight: DoubleTensor, _ attrs: BatchNorm
  ) throws -> (dx: DoubleTensor, dWeight: DoubleTensor, dBias: DoubleTensor) {
    let (mean, variance) = try DoubleReferenceOps.batchStatistics(x)
    let (outer, _, inner) = try DoubleReferenceOps.channelView("batchnorm", x.shape)
    guard outer * inner >= 2 else {
      throw ReferenceError(
        "batchnorm: input \(Shapes.format(x.shape)) has \(outer * inner) value per channel; training needs at least 2")
    }
    return try batchNorm(
      dy: dy, x: x, weight: weight, mean: mean, variance: variance, epsilon: attrs.epsilon, throughStatistics: true)
  }

  /// The Float form of `batchNormTraining(dy:x:weight:_:)`.
  public static func batchNormTraining(
    dy: Tensor, x: Tensor, weight: Tensor, _ attrs: BatchNorm
  ) throws -> (dx: Tensor, dWeight: Tensor, dBias: Tensor) {
    let r = try batchNormTraining(dy: DoubleTensor(dy), x: DoubleTensor(x), weight: DoubleTensor(weight), attrs)
    return (r.dx.float, r.dWeight.float, r.dBias.float)
  }

  /* Batch norm in inference mode is a fixed per-channel affine map, y = γ·x̂ + β with
     x̂ = (x − running_mean)·r, r = 1/√(running_var + ε):
       dx = dy·γ·r,   dγ = Σ dy·x̂,   dβ = Σ dy                                                            */
  /// The VJP of `ReferenceOps.batchNormInference` (running statistics): (∂L/∂x, ∂L/∂γ, ∂L/∂β).
  public static func batchNormInference(
    dy: DoubleTensor, x: DoubleTensor, weight: DoubleTensor, runningMean: DoubleTensor, runningVar: DoubleTensor,
    _ attrs: BatchNorm
  ) throws -> (dx: DoubleTensor, dWeight: DoubleTensor, dBias: DoubleTensor) {
    try batchNorm(
      dy: dy, x: x, weight: weight, mean: runningMean.data, variance: runningVar.data, epsilon: attrs.epsilon,
      throughStatistics: false)
  }

  /// The Float form of `batchNormInference(dy:x:weight:runningMean:runningVar:_:)`.
  public static func batchNormInference(
    dy: Tensor, x: Tensor, weight: Tensor, runningMean: Tensor, runningVar: Tensor, _ attrs: BatchNorm
  ) throws -> (dx: Tensor, dWeight: Tensor, dBias: Tensor) {
    let r = try batchNormInference(
      dy: DoubleTensor(dy), x: DoubleTensor(x), weight: DoubleTensor(weight), runningMean: DoubleTensor(runningMean),
      runningVar: DoubleTensor(runningVar), attrs)
    return (r.dx.float, r.dWeight.float, r.dBias.float)
  }

  /// Both batch-norm VJPs: `throughStatistics` when mean and variance are the batch's own (training).
  private static func batchNorm(
    dy: DoubleTensor, x: DoubleTensor, weight: DoubleTensor, mean: [Double], variance: [Double], epsilon: Double,
    throughStatistics: Bool
  ) throws -> (dx: DoubleTensor, dWeight: DoubleTensor, dBias: DoubleTensor) {
    let (outer, channels, inner) = try DoubleReferenceOps.channelView("batchnorm", x.shape)
    try requireGradient("batchnorm", dy.shape, x.shape)
    for (name, v) in [("weight", weight.data), ("running_mean", mean), ("running_var", variance)] {
      try Shapes.requireShape("batchnorm", name, [v.count], [channels])
    }
    let r = variance.map { 1 / ($0 + epsilon).squareRoot() }
    func normalized(_ i: Int) -> Double { (x.data[i] - mean[(i / inner) % channels]) * r[(i / inner) % channels] }
    var dGamma = [Double](repeating: 0, count: channels)
    var dBeta = [Double](repeating: 0, count: channels)
    for i in x.data.indices {
      dBeta[(i / inner) % channels] += dy.data[i]
      dGamma[(i / inner) % channels] += dy.data[i] * normalized(i)
    }
    let m = Double(outer * inner)
    let dx = x.data.indices.map { i -> Double in
      let c = (i / inner) % channels
      guard throughStatistics else { return dy.data[i] * weight.data[c] * r[c] }
      return weight.data[c] * r[c] / m * (m * dy.data[i] - dBeta[c] - normalized(i) * dGamma[c])
    }
    return (
      DoubleTensor(checked: x.shape, dx), DoubleTensor(checked: [channels], dGamma),
      DoubleTensor(checked: [channels], dBeta)
    )
  }

  /* LRN, b_c = a_c·D_c^(−β), D_c = k + (α/n)·Σ_{c' ∈ W(c)} a_{c'}², W(c) = c − ⌊n/2⌋ … c + ⌊(n−1)/2⌋:
       ∂b_c/∂a_j = δ_cj·D_c^(−β) − β·a_c·D_c^(−β−1)·(2α/n)·a_j·[j ∈ W(c)]
     so, per sample and position, with j ∈ W(c) ⇔ c ∈ j − ⌊(n−1)/2⌋ … j + ⌊n/2⌋:
       da_j = dy_j·D_j^(−β) − (2αβ/n)·a_j·Σ_{c ∋ j} dy_c·a_c·D_c^(−β−1)                                    */
  /// The VJP of `ReferenceOps.lrn`: ∂L/∂x.
  public static func lrn(dy: DoubleTensor, x: DoubleTensor, _ l: LRN) throws -> DoubleTensor {
    let d = try DoubleReferenceOps.lrnDenominators(x, l)
    try requireGradient("lrn", dy.shape, x.shape)
    let (outer, channels, inner) = try DoubleReferenceOps.channelView("lrn", x.shape)
    // t_c = dy_c·a_c·D_c^(−β−1), the factor every channel whose window holds j passes back to it.
    let t = x.data.indices.map { dy.data[$0] * x.data[$0] * pow(d[$0], -l.beta - 1) }
    var dx = [Double](repeating: 0, count: x.count)
    for s in 0..<outer {
      for j in 0..<channels {
        for e in 0..<inner {
          var sum = 0.0
          for c in max(j - (l.size - 1) / 2, 0)...min(j + l.size / 2, channels - 1) {
            sum += t[(s * channels + c) * inner + e]
          }
          let i = (s * channels + j) * inner + e
          dx[i] = dy.data[i] * pow(d[i], -l.beta) - 2 * l.alpha * l.beta / Double(l.size) * x.data[i] * sum
        }
      }
    }
    return DoubleTensor(checked: x.shape, dx)
  }

  /// The Float form of `lrn(dy:x:_:)`.
  public static func lrn(dy: Tensor, x: Tensor, _ l: LRN) throws -> Tensor {
    try lrn(dy: DoubleTensor(dy), x: DoubleTensor(x), l).float
  }

  /* Dropout in training, y_i = x_i·s_i with s_i = 1/(1 − rate) for kept elements and 0 for dropped ones
     (the forward's mask: same seed, stream and flat index)  ⇒  dx_i = dy_i·s_i.                           */
  /// The VJP of training-mode `ReferenceOps.dropout` with this seed and stream: ∂L/∂x.
  public static func dropout(dy: DoubleTensor, rate: Double, seed: UInt64, stream: UInt64) throws -> DoubleTensor {
    let scale = try dropoutScale(count: dy.count, rate: rate, seed: seed, stream: stream)
    return DoubleTensor(checked: dy.shape, zip(dy.data, scale).map { $0 * $1 })
  }

  /// The Float form of `dropout(dy:rate:seed:stream:)`.
  public static func dropout(dy: Tensor, rate: Double, seed: UInt64, stream: UInt64) throws -> Tensor {
    try dropout(dy: DoubleTensor(dy), rate: rate, seed: seed, stream: stream).float
  }

  /// Each element's factor in training-mode dropout: 1/(1 − rate) if kept (u ≥ rate), else 0.
  static func dropoutScale(count: Int, rate: Double, seed: UInt64, stream: UInt64) throws -> [Double] {
    guard rate >= 0, rate <= 1 else { throw ReferenceError("dropout: rate \(rate) must be in [0, 1]") }
    guard rate < 1 else { return [Double](repeating: 0, count: count) }
    return (0..<count).map { i in
      CounterRandom.uniform(seed: seed, stream: stream, index: UInt64(i)) >= rate ? 1 / (1 - rate) : 0
    }
  }

  /* The losses, L averaged over the batch like the forward (E = element count of the prediction):
       softmax_cross_entropy  L = (1/N)·Σ_n [logsumexp(x_n) − x_n,label]  ⇒  dx_n,c = (softmax(x_n)_c − [c = label_n])/N
       bce_with_logits        ℓ = max(x, 0) − x·t + log(1 + e^−|x|) = softplus(x) − x·t  ⇒  dx = (σ(x) − t)/E
       mse                    ℓ = (x − t)²  ⇒  dx = 2(x − t)/E
       mae                    ℓ = |x − t|   ⇒  dx = sign(x − t)/E   (0 at x = t, as PyTorch's sign)
     each times the incoming ∂(outer)/∂L, `dLoss`.                                                           */
  /// The VJP of `ReferenceOps.loss` with respect to the prediction: dLoss · ∂L/∂prediction.
  /// Targets get no gradient (they are data); class labels must lie in 0..<C.
  public static func loss(
    _ kind: LossKind, prediction x: DoubleTensor, target: AnyTensor, dLoss: Double = 1
  ) throws -> DoubleTensor {
    _ = try Shapes.loss(kind, prediction: x.shape, target: target.shape, targetType: target.dtype)
    switch (kind, target) {
    case (.softmaxCrossEntropy, .i64(let labels)):
      var dx = DoubleReferenceOps.softmax(x).data
      let (n, classes) = (x.shape[0], x.shape[1])
      for (s, label) in labels.data.enumerated() {
        try checkLabel(label, sample: s, classes: classes, kind)
        dx[s * classes + Int(label)] -= 1
      }
      return DoubleTensor(checked: x.shape, dx.map { $0 * dLoss / Double(n) })
    case (.binaryCrossEntropyWithLogits, .f32(let t)):
      return elementwise(x, t, dLoss) { x, t in ReferenceOps.activate(x, .sigmoid) - t }
    case (.meanSquaredError, .f32(let t)):
      return elementwise(x, t, dLoss) { x, t in 2 * (x - t) }
    case (.meanAbsoluteError, .f32(let t)):
      return elementwise(x, t, dLoss) { x, t in x > t ? 1 : (x < t ? -1 : 0) }
    case (.softmaxCrossEntropy, .f32), (.binaryCrossEntropyWithLogits, .i64), (.meanSquaredError, .i64),
      (.meanAbsoluteError, .i64):
      throw ReferenceError("\(kind.rawValue): target has element type \(target.dtype.rawValue)")
    }
  }

  /// The Float form of `loss(_:prediction:target:dLoss:)`.
  public static func loss(_ kind: LossKind, prediction: Tensor, target: AnyTensor, dLoss: Double = 1) throws -> Tensor {
    try loss(kind, prediction: DoubleTensor(prediction), target: target, dLoss: dLoss).float
  }

  private static func elementwise(
    _ x: DoubleTensor, _ t: Tensor, _ dLoss: Double, _ term: (Double, Double) -> Double
  ) -> DoubleTensor {
    let e = Double(x.count)
    return DoubleTensor(checked: x.shape, zip(x.data, t.data).map { term($0, Double($1)) * dLoss / e })
  }

  static func checkLabel(_ label: Int64, sample: Int, classes: Int, _ kind: LossKind) throws {
    guard label >= 0, label < Int64(classes) else {
      throw ReferenceError(
        "\(kind.rawValue): label \(label) at sample \(sample) is out of range; expected a class index in 0..<\(classes)"
      )
    }
  }
}
