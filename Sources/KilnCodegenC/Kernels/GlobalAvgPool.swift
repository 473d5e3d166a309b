// The global average pooling kernel: the mean of each channel's plane, [C, H, W] -> [C].
import KilnIR

/// Context of `global_avgpool.c.mustache`.
public struct GlobalAvgPoolContext: KernelContext {
  public static let template = "global_avgpool"
  /// The C function name and the text of its leading comment.
  public var name, comment: String
  /// Channels per sample: one mean each.
  public var channels: Int
  /// H·W: the values averaged per channel.
  public var plane: Int
  /// C·H·W, for the parallel threshold.
  public var perSample: Int
  /// Below this many input values the loop runs on one thread.
  public var parallelThreshold: Int

  public static let sample = GlobalAvgPoolContext(
    name: "k1_global_avgpool_g", comment: "global_avgpool g", channels: 3, plane: 25, perSample: 75,
    parallelThreshold: elementwiseParallelThreshold)
}

/// The kernel of `globalAvgPool`.
public enum GlobalAvgPoolKernel {
  /// y[c] = Σ_{h,w} x[c, h, w] / (H·W) for `input` = [C, H, W] per sample, summed in double in row-major
  /// order as the reference does.
  /// - Throws: `KernelShapeError` when the input is not a non-empty f32 [C, H, W].
  public static func make(name: String, input: TensorType) throws -> KernelFunction {
    let count = try KernelChecks.require(input, "input", ranks: 3...3, layout: "[C, H, W]", kernel: name)
    let channels = input.dims[0]
    let context = GlobalAvgPoolContext(
      name: name, comment: "global_avgpool \(name)", channels: channels, plane: input.dims[1] * input.dims[2],
      perSample: count, parallelThreshold: elementwiseParallelThreshold)
    return KernelFunction(
      name: name, definition: TemplateRenderer.shared.render(context),
      parameters: [KernelParameter("x", .input, floats: count), KernelParameter("y", .output, floats: channels)])
  }
}
