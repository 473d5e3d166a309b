// The inference batch-norm kernel over dimension 1, with an optional fused elementwise activation.
import KilnIR

/// Context of `batchnorm.c.mustache`.
public struct BatchNormContext: KernelContext {
  public static let template = "batchnorm"
  /// The C function name and the text of its leading comment.
  public var name, comment: String
  /// Channels per sample (dimension 0), one scale and shift each.
  public var channels: Int
  /// Values per channel and sample: H·W for [C, H, W], 1 for [C].
  public var inner: Int
  /// C·inner, for the parallel threshold.
  public var perSample: Int
  /// ε as a C float literal.
  public var epsilon: String
  /// The C expression of the activation applied to `v`.
  public var activationOfResult: String
  /// Below this many values the loop runs on one thread.
  public var parallelThreshold: Int

  public static let sample = BatchNormContext(
    name: "k1_batchnorm_bn", comment: "batchnorm bn", channels: 4, inner: 9, perSample: 36, epsilon: cFloat(1e-5),
    activationOfResult: "v", parallelThreshold: elementwiseParallelThreshold)
}

/// The kernel of `batchNorm` at inference (running statistics).
public enum BatchNormKernel {
  /// y = act((x − running_mean[c]) · γ[c]/√(running_var[c] + ε) + β[c]) over dimension 1 of `input`
  /// ([C] or [C, H, W], any rank ≥ 1: dimension 0 per sample is the channel).
  ///
  /// Parameters `weight` (γ), `bias` (β), `running_mean`, `running_var` are the tensors `<layer>.weight`,
  /// `.bias`, `.running_mean`, `.running_var`, [C] each. Each channel's scale γ/√(var + ε) and every output
  /// value are computed in double and rounded once to float, as the reference does; the activation then
  /// runs in float on that rounded value.
  /// - Throws: `KernelShapeError` when the input is not f32 of rank ≥ 1, or `activation` is softmax or
  ///   log-softmax (not elementwise).
  public static func make(
    name: String, layer: String, batchNorm: BatchNorm, input: TensorType, activation: Activation = .identity
  ) throws -> KernelFunction {
    let count = try KernelChecks.require(input, "input", ranks: 1...Int.max, layout: "[C] or [C, H, W]", kernel: name)
    guard activation.isElementwise else {
      throw KernelShapeError(kernel: name, "fused activation \(activation) is not elementwise; expected relu, tanh, …")
    }
    let channels = input.dims[0]
    let context = BatchNormContext(
      name: name, comment: "batchnorm \(layer)", channels: channels, inner: count / channels, perSample: count,
      epsilon: cFloat(batchNorm.epsilon), activationOfResult: cActivation(activation, "v"),
      parallelThreshold: elementwiseParallelThreshold)
    return KernelFunction(
      name: name, definition: TemplateRenderer.shared.render(context),
      parameters: [
        KernelParameter("x", .input, floats: count),
        KernelParameter("weight", .parameter, tensor: "\(layer).weight", floats: channels),
        KernelParameter("bias", .parameter, tensor: "\(layer).bias", floats: channels),
        KernelParameter("running_mean", .parameter, tensor: "\(layer).running_mean", floats: channels),
        KernelParameter("running_var", .parameter, tensor: "\(layer).running_var", floats: channels),
        KernelParameter("y", .output, floats: count),
      ])
  }
}
