// Training-mode dropout: a counter-based mask from the step's seed and the layer's stream, bit for bit the reference's.
import Foundation
import KilnIR

/// Context of `dropout_training.c.mustache`.
public struct DropoutTrainingContext: KernelContext {
  public static let template = "dropout_training"
  /// The C function name and the text of its leading comment.
  public var name, comment: String
  /// The layer whose name the stream hashes (for the comment), and the rate as written.
  public var layer, rate: String
  /// The C names of the value read and the value written (`x`, `y` forward; `dy`, `dx` backward).
  public var input, output: String
  /// Values per sample.
  public var perSample: Int
  /// `CounterRandom.stream(named: layer)` and its SplitMix64 mix, as hexadecimal literals.
  public var stream, mixedStream: String
  /// ⌈rate·2²⁴⌉: an element is kept iff its top 24 random bits are at least this.
  public var threshold: String
  /// 1/(1 − rate) as a C double literal (0 when rate is 1: nothing is kept).
  public var scale: String
  /// The C expression of a dropped element: `0.0f` forward; `input · 0` backward, which keeps the sign of dy
  /// and a NaN, as the reference's dy·s does.
  public var dropped: String
  /// Below this many values the loop runs on one thread.
  public var parallelThreshold: Int

  public static let sample = DropoutTrainingContext(
    name: "k1_dropout_d", comment: "dropout (training) d", layer: "d", rate: "0.5", input: "x", output: "y",
    perSample: 8, stream: "0xAF63DC4C8601EC8C", mixedStream: "0x0", threshold: "8388608", scale: cDouble(2),
    dropped: "0.0f", parallelThreshold: elementwiseParallelThreshold)
}

/// The kernel of `dropout` in training (and, applied to dy, of its gradient).
public enum DropoutTrainingKernel {
  /// y_i = x_i·1/(1 − rate) if `CounterRandom.uniform(seed: info->seed, stream: stream(named: layer), index: i)`
  /// ≥ rate, else 0, with i the flat index in the whole [N, …] tensor: `ReferenceOps.dropout` bit for bit.
  /// Parameters: `x`, `y`, `info` (`const kiln_step_info *`, whose `seed` is this step's dropout seed).
  /// - Throws: `KernelShapeError` when `rate` is outside [0, 1] or `perSample` is below 1.
  public static func make(name: String, layer: String, rate: Double, perSample: Int) throws -> KernelFunction {
    try make(name: name, layer: layer, rate: rate, perSample: perSample, input: "x", output: "y")
  }

  /// The gradient of training-mode dropout: dx_i = dy_i·s_i with the forward's mask and scale s (same seed,
  /// stream and flat index), as `ReferenceGradients.dropout`. Parameters `dy`, `dx`, `info`.
  static func makeGradient(name: String, layer: String, rate: Double, perSample: Int) throws -> KernelFunction {
    try make(name: name, layer: layer, rate: rate, perSample: perSample, input: "dy", output: "dx", gradient: true)
  }

  /// The forward kernel or the gradient's, with its value parameters named `input` and `output`.
  private static func make(
    name: String, layer: String, rate: Double, perSample: Int, input: String, output: String, gradient: Bool = false
  ) throws -> KernelFunction {
    guard rate >= 0, rate <= 1 else { throw KernelShapeError(kernel: name, "dropout rate \(rate) must be in [0, 1]") }
    try KernelChecks.require(TensorType(.f32, [perSample]), "input", ranks: 1...1, layout: "[values]", kernel: name)
    let stream = CounterRandom.stream(named: layer)
    // u = (bits >> 40)·2⁻²⁴ is a multiple of 2⁻²⁴, so u ≥ rate ⇔ (bits >> 40) ≥ ⌈rate·2²⁴⌉ (exact in double).
    let threshold = UInt64((rate * 0x1p24).rounded(.up))
    let context = DropoutTrainingContext(
      name: name, comment: "dropout (training) \(cCommentText(layer))", layer: cCommentText(layer), rate: "\(rate)",
      input: input, output: output, perSample: perSample, stream: hex(stream),
      mixedStream: hex(CounterRandom.mix(stream)), threshold: "\(threshold)",
      scale: cDouble(rate < 1 ? 1 / (1 - rate) : 0),
      dropped: gradient ? "(float)((double)\(input)[i] * 0.0)" : "0.0f", parallelThreshold: elementwiseParallelThreshold
    )
    return KernelFunction(
      name: name, definition: TemplateRenderer.shared.render(context),
      parameters: [
        KernelParameter(input, .input, floats: perSample), KernelParameter(output, .output, floats: perSample),
        KernelParameter("info", .stepInfo, floats: 0),
      ])
  }

  private static func hex(_ v: UInt64) -> String { "0x" + String(v, radix: 16, uppercase: true) }
}
