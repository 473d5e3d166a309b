// The elementwise add and multiply kernels, with an optional fused activation.
import KilnIR

/// Context of `elementwise_binary.c.mustache`.
public struct ElementwiseBinaryContext: KernelContext {
  public static let template = "elementwise_binary"
  public var name: String
  public var comment: String
  /// `+` or `*`.
  public var `operator`: String
  public var perSample: Int
  /// The C expression of the activation applied to `v`.
  public var activationOfResult: String
  /// Below this many values the loop runs on one thread (an OpenMP region costs about 1 µs here).
  public var parallelThreshold: Int

  public static let sample = ElementwiseBinaryContext(
    name: "k1_add_s", comment: "add s", operator: "+", perSample: 8, activationOfResult: "v",
    parallelThreshold: 1 << 15)
}

/// The kernels of elementwise binary ops.
public enum ElementwiseBinaryKernel {
  /// `y = act(a + b)` or `y = act(a · b)` over `perSample` values per sample.
  public static func make(name: String, op: Op, perSample: Int, activation: Activation = .identity) -> KernelFunction {
    precondition(op == .add || op == .mul, "elementwise binary kernel for \(op.name)")
    let context = ElementwiseBinaryContext(
      name: name, comment: op.name, operator: op == .add ? "+" : "*", perSample: perSample,
      activationOfResult: cActivation(activation, "v"), parallelThreshold: elementwiseParallelThreshold)
    return KernelFunction(
      name: name, definition: TemplateRenderer.shared.render(context),
      parameters: [
        KernelParameter("a", .input, floats: perSample), KernelParameter("b", .input, floats: perSample),
        KernelParameter("y", .output, floats: perSample),
      ])
  }
}

/// Elementwise loops shorter than this run on one thread: at about 1 µs per OpenMP region on this machine
/// (MACHINE-NOTES §1) and a few GB/s per core, shorter loops lose more to the fork than they gain.
public let elementwiseParallelThreshold = 1 << 15
