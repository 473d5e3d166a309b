// The backward of training-mode batch norm (toward x, γ and β) and of local response normalization.
import KilnIR

/// Context of `batchnorm_gradient_input.c.mustache`.
public struct BatchNormInputGradientContext: KernelContext {
  public static let template = "batchnorm_gradient_input"
  /// The C function name and the text of its leading comment.
  public var name, comment: String
  /// Channels per sample (dimension 0), values per channel and sample (H·W, or 1), and their product.
  public var channels, inner, perSample: Int
  /// ε as a C double literal.
  public var epsilon: String
  /// Below this many values the loop runs on one thread.
  public var parallelThreshold: Int

  public static let sample = BatchNormInputGradientContext(
    name: "k1_grad_bn", comment: "batchnorm gradient bn", channels: 4, inner: 9, perSample: 36,
    epsilon: cDouble(1e-5), parallelThreshold: elementwiseParallelThreshold)
}

/// Context of `batchnorm_gradient_weight.c.mustache`.
public struct BatchNormWeightGradientContext: KernelContext {
  public static let template = "batchnorm_gradient_weight"
  /// The C function name and the text of its leading comment.
  public var name, comment: String
  /// Channels per sample (dimension 0), values per channel and sample (H·W, or 1), and their product.
  public var channels, inner, perSample: Int
  /// ε as a C double literal.
  public var epsilon: String
  /// Below this many values the loop runs on one thread.
  public var parallelThreshold: Int

  public static let sample = BatchNormWeightGradientContext(
    name: "k1_grad_bn", comment: "batchnorm gradient bn", channels: 4, inner: 9, perSample: 36,
    epsilon: cDouble(1e-5), parallelThreshold: elementwiseParallelThreshold)
}

/// Context of `batchnorm_gradient_bias.c.mustache`.
public struct BatchNormBiasGradientContext: KernelContext {
  public static let template = "batchnorm_gradient_bias"
  /// The C function name and the text of its leading comment.
  public var name, comment: String
  /// Channels per sample (dimension 0), values per channel and sample (H·W, or 1), and their product.
  public var channels, inner, perSample: Int
  /// Below this many values the loop runs on one thread.
  public var parallelThreshold: Int

  public static let sample = BatchNormBiasGradientContext(
    name: "k1_grad_bn", comment: "batchnorm gradient bn", channels: 4, inner: 9, perSample: 36,
    parallelThreshold: elementwiseParallelThreshold)
}

/// Context of `lrn_gradient.c.mustache`.
public struct LRNGradientContext: KernelContext {
  public static let template = "lrn_gradient"
  /// The C function name and the text of its leading comment.
  public var name, comment: String
  /// Channels per sample (dimension 0), values per channel and sample (H·W, or 1), and their product.
  public var channels, inner, perSample: Int
  /// Channels before c in a forward window (⌊size/2⌋) and after it (⌊(size−1)/2⌋), capped at the channels.
  public var before, after: Int
  /// C double literals of k, α/size, −β, −β − 1 and 2αβ/size.
  public var k, alphaOverSize, minusBeta, minusBetaMinusOne, coefficient: String
  /// Squares summed per sample (C·inner·size², capped), for the parallel threshold.
  public var workPerSample: Int
  /// Below this much work the loop runs on one thread.
  public var parallelThreshold: Int

  public static let sample = LRNGradientContext(
    name: "k1_grad_lrn", comment: "lrn gradient norm", channels: 8, inner: 9, perSample: 72, before: 2, after: 2,
    k: cDouble(2), alphaOverSize: cDouble(1e-4 / 5), minusBeta: cDouble(-0.75), minusBetaMinusOne: cDouble(-1.75),
    coefficient: cDouble(2 * 1e-4 * 0.75 / 5), workPerSample: 1800, parallelThreshold: elementwiseParallelThreshold)
}

/// The gradient kernels of `batchNorm` (training mode) and `lrn`.
enum NormalizationGradientKernel {
  /* Training-mode batch norm (see ReferenceGradients.batchNormTraining), per channel over m = N·inner values:
       dβ = Σ dy,   dγ = Σ dy·x̂,   dx = γ·r/m·(m·dy − dβ − x̂·dγ),   x̂ = (x − μ)·r, r = 1/√(σ² + ε)
     with the batch statistics μ, σ² recomputed from x. Operands: [dy, x] toward x and γ, [dy] toward β.   */
  static func makeBatchNorm(_ node: GradientNode, batchNorm b: BatchNorm) throws -> KernelFunction {
    let input = try node.forwardInput(0)
    let count = try KernelChecks.require(
      input, "input", ranks: 1...Int.max, layout: "[C] or [C, H, W]", kernel: node.name)
    let channels = input.dims[0]
    let inner = count / channels
    let comment = "batchnorm gradient \(node.layer)"
    let (name, threshold) = (node.name, elementwiseParallelThreshold)
    var parameters = [KernelParameter("dy", .input, floats: count)]
    let definition: String
    switch node.gradient.target {
    case .input(0):
      try node.require([.outputGradient, .forwardInput(0)], target: .input(0))
      parameters += [
        KernelParameter("x", .input, floats: count),
        KernelParameter("weight", .parameter, tensor: node.parameter("weight"), floats: channels),
        KernelParameter("dx", .output, floats: count),
      ]
      definition = TemplateRenderer.shared.render(
        BatchNormInputGradientContext(
          name: name, comment: comment, channels: channels, inner: inner, perSample: count,
          epsilon: cDouble(b.epsilon), parallelThreshold: threshold))
    case .parameter(.weight):
      try node.require([.outputGradient, .forwardInput(0)], target: .parameter(.weight))
      parameters += [
        KernelParameter("x", .input, floats: count),
        KernelParameter("dweight", .output, floats: channels, batched: false),
      ]
      definition = TemplateRenderer.shared.render(
        BatchNormWeightGradientContext(
          name: name, comment: comment, channels: channels, inner: inner, perSample: count,
          epsilon: cDouble(b.epsilon), parallelThreshold: threshold))
    case .parameter(.bias):
      try node.require([.outputGradient], target: .parameter(.bias))
      parameters.append(KernelParameter("dbias", .output, floats: channels, batched: false))
      definition = TemplateRenderer.shared.render(
        BatchNormBiasGradientContext(
          name: name, comment: comment, channels: channels, inner: inner, perSample: count,
          parallelThreshold: threshold))
    default:
      throw node.error("there is no gradient toward \(node.gradient.target)")
    }
    for i in node.inputTypes.indices { _ = try node.operand(i, dims: input.dims) }
    return KernelFunction(name: name, definition: definition, parameters: parameters)
  }

  /// dx of `lrn` from [dy, x] (see ReferenceGradients.lrn), in double with the denominators recomputed.
  static func makeLRN(_ node: GradientNode, lrn l: LRN) throws -> KernelFunction {
    let input = try node.forwardInput(0)
    let count = try KernelChecks.require(
      input, "input", ranks: 1...Int.max, layout: "[C] or [C, H, W]", kernel: node.name)
    guard l.size >= 1 else { throw node.error("size \(l.size) must be at least 1") }
    _ = try node.operand(0, dims: input.dims)
    _ = try node.operand(1, dims: input.dims)
    let channels = input.dims[0]
    let window = min(l.size, channels)
    let context = LRNGradientContext(
      name: node.name, comment: "lrn gradient \(node.layer)", channels: channels,
      inner: count / channels, perSample: count, before: min(l.size / 2, channels),
      after: min((l.size - 1) / 2, channels), k: cDouble(l.k), alphaOverSize: cDouble(l.alpha / Double(l.size)),
      minusBeta: cDouble(-l.beta), minusBetaMinusOne: cDouble(-l.beta - 1),
      coefficient: cDouble(2 * l.alpha * l.beta / Double(l.size)),
      workPerSample: cappedWork(count, window * window), parallelThreshold: elementwiseParallelThreshold)
    return KernelFunction(
      name: node.name, definition: TemplateRenderer.shared.render(context),
      parameters: [
        KernelParameter("dy", .input, floats: count), KernelParameter("x", .input, floats: count),
        KernelParameter("dx", .output, floats: count),
      ])
  }
}
