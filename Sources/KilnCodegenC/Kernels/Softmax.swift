// The softmax and log-softmax kernel over dimension 1 (the channels), numerically stabilized by the maximum.
import KilnIR

/// Context of `softmax.c.mustache`.
public struct SoftmaxContext: KernelContext {
  public static let template = "softmax"
  /// The C function name and the text of its leading comment.
  public var name, comment: String
  /// Channels per sample (dimension 0): the values of one softmax.
  public var channels: Int
  /// Positions per channel and sample: H·W for [C, H, W], 1 for [C]. Each position is one softmax.
  public var inner: Int
  /// C·inner, for the parallel threshold.
  public var perSample: Int
  /// log-softmax rather than softmax.
  public var log: Bool
  /// Below this many values the loop runs on one thread.
  public var parallelThreshold: Int

  public static let sample = SoftmaxContext(
    name: "k1_softmax_p", comment: "softmax p", channels: 10, inner: 1, perSample: 10, log: false,
    parallelThreshold: elementwiseParallelThreshold)
}

/// The kernel of the `softmax` and `logSoftmax` activations.
public enum SoftmaxKernel {
  /// softmax(x)_c = e^(x_c − m) / Σ e^(x_c' − m) or log_softmax(x)_c = (x_c − m) − log Σ e^(x_c' − m), with m
  /// the maximum over the channels, for every sample and position of `input` ([C] or [C, H, W]: dimension 0
  /// per sample is the channel). expf per value, the sum in double, so ±1000 gives finite results and the
  /// error stays within a few float roundings of the reference's double. A NaN makes its whole lane NaN,
  /// as in the reference and PyTorch.
  /// - Throws: `KernelShapeError` when the input is not f32 of rank ≥ 1.
  public static func make(name: String, log: Bool, input: TensorType) throws -> KernelFunction {
    let count = try KernelChecks.require(input, "input", ranks: 1...Int.max, layout: "[C] or [C, H, W]", kernel: name)
    let channels = input.dims[0]
    let context = SoftmaxContext(
      name: name, comment: "\(log ? "log_softmax" : "softmax") \(name)", channels: channels,
      inner: count / channels, perSample: count, log: log, parallelThreshold: elementwiseParallelThreshold)
    return KernelFunction(
      name: name, definition: TemplateRenderer.shared.render(context),
      parameters: [KernelParameter("x", .input, floats: count), KernelParameter("y", .output, floats: count)])
  }
}
