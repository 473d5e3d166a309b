// The local response normalization kernel across channels (nn.LocalResponseNorm).
import KilnIR

/// Context of `lrn.c.mustache`.
public struct LRNContext: KernelContext {
  public static let template = "lrn"
  /// The C function name and the text of its leading comment.
  public var name, comment: String
  /// Channels per sample (dimension 0), the axis the window slides along.
  public var channels: Int
  /// Values per channel and sample: H·W for [C, H, W], 1 for [C].
  public var inner: Int
  /// C·inner, for the parallel threshold.
  public var perSample: Int
  /// Channels before c in the window: ⌊size/2⌋.
  public var before: Int
  /// Channels after c in the window: ⌊(size−1)/2⌋.
  public var after: Int
  /// C float literals of k, α/size and β.
  public var k, alphaOverSize, beta: String
  /// Window cells summed per sample (perSample·size, capped at `Int32.max`), for the parallel threshold.
  public var workPerSample: Int
  /// Below this much work the loop runs on one thread.
  public var parallelThreshold: Int

  public static let sample = LRNContext(
    name: "k1_lrn_norm", comment: "lrn norm", channels: 8, inner: 9, perSample: 72, before: 2, after: 2,
    k: cFloat(2.0), alphaOverSize: cFloat(1e-4 / 5), beta: cFloat(0.75), workPerSample: 360,
    parallelThreshold: elementwiseParallelThreshold)
}

/// The kernel of `lrn`.
public enum LRNKernel {
  /// b_c = a_c / (k + α/size · Σ a_{c'}²)^β over c' = c − ⌊size/2⌋ … c + ⌊(size−1)/2⌋ within the channels of
  /// `input` ([C] or [C, H, W]: dimension 0 per sample is the channel). Channels past the edges add nothing
  /// but still count in /size, as in PyTorch. The sum of squares is taken in float in ascending channel
  /// order, then powf: within a few float roundings of the reference's double.
  /// - Throws: `KernelShapeError` when the input is not f32 of rank ≥ 1 or `lrn.size` is below 1.
  public static func make(name: String, lrn: LRN, input: TensorType) throws -> KernelFunction {
    let count = try KernelChecks.require(input, "input", ranks: 1...Int.max, layout: "[C] or [C, H, W]", kernel: name)
    guard lrn.size >= 1 else { throw KernelShapeError(kernel: name, "size \(lrn.size) must be at least 1") }
    let channels = input.dims[0]
    let work = count.multipliedReportingOverflow(by: lrn.size)
    let cap = Int(Int32.max)
    let context = LRNContext(
      name: name, comment: "lrn \(name)", channels: channels, inner: count / channels, perSample: count,
      before: Swift.min(lrn.size / 2, channels), after: Swift.min((lrn.size - 1) / 2, channels), k: cFloat(lrn.k),
      alphaOverSize: cFloat(lrn.alpha / Double(lrn.size)), beta: cFloat(lrn.beta),
      workPerSample: work.overflow ? cap : Swift.min(work.partialValue, cap),
      parallelThreshold: elementwiseParallelThreshold)
    return KernelFunction(
      name: name, definition: TemplateRenderer.shared.render(context),
      parameters: [KernelParameter("x", .input, floats: count), KernelParameter("y", .output, floats: count)])
  }
}
