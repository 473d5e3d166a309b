// The standalone elementwise activation kernel (relu, tanh, sigmoid, …); softmax has its own kernel.
import KilnIR

/// Context of `activation.c.mustache`.
public struct ActivationContext: KernelContext {
  public static let template = "activation"
  /// The C function name and the text of its leading comment.
  public var name, comment: String
  /// Values per sample.
  public var perSample: Int
  /// The C expression of the activation applied to `v`.
  public var activationOfValue: String
  /// Below this many values the loop runs on one thread.
  public var parallelThreshold: Int

  public static let sample = ActivationContext(
    name: "k1_relu_r", comment: "relu r", perSample: 8, activationOfValue: cActivation(.relu, "v"),
    parallelThreshold: elementwiseParallelThreshold)
}

/// The kernel of an elementwise `activation`.
public enum ActivationKernel {
  /// y = act(x) over `perSample` values per sample, in float, with the comparisons of `cActivation` so that
  /// NaN passes through as in PyTorch.
  /// - Throws: `KernelShapeError` for softmax and log-softmax (use `SoftmaxKernel`) or `perSample` below 1.
  public static func make(name: String, activation: Activation, perSample: Int) throws -> KernelFunction {
    guard activation.isElementwise else {
      throw KernelShapeError(kernel: name, "\(activation) is not elementwise; expected SoftmaxKernel to build it")
    }
    try KernelChecks.require(TensorType(.f32, [perSample]), "input", ranks: 1...1, layout: "[values]", kernel: name)
    let context = ActivationContext(
      name: name, comment: "\(activation) \(name)", perSample: perSample,
      activationOfValue: cActivation(activation, "v"), parallelThreshold: elementwiseParallelThreshold)
    return KernelFunction(
      name: name, definition: TemplateRenderer.shared.render(context),
      parameters: [KernelParameter("x", .input, floats: perSample), KernelParameter("y", .output, floats: perSample)])
  }
}
