// The concatenation kernel along dimension 1 (the channels) of two or more inputs.
import KilnIR

/// Context of `concat.c.mustache`.
public struct ConcatContext: KernelContext {
  /// One input: its C parameter, its values per sample, and where they start in an output sample.
  public struct Part: Sendable {
    /// The C parameter name, `x<i>`.
    public var pointer: String
    /// Values per sample of this input.
    public var floats: Int
    /// Where they start in an output sample.
    public var offset: Int
  }

  public static let template = "concat"
  /// The C function name and the text of its leading comment.
  public var name, comment: String
  /// The inputs in order.
  public var inputs: [Part]
  /// Output values per sample: the sum of the inputs'.
  public var perSample: Int
  /// Below this many output values the copy runs on one thread.
  public var parallelThreshold: Int

  public static let sample = ConcatContext(
    name: "k1_concat_c", comment: "concat c",
    inputs: [Part(pointer: "x0", floats: 8, offset: 0), Part(pointer: "x1", floats: 4, offset: 8)], perSample: 12,
    parallelThreshold: elementwiseParallelThreshold)
}

/// The kernel of `concat`.
public enum ConcatKernel {
  /// y = [x0, x1, …] along dimension 1 of each sample: inputs `x0`…`x(k−1)` agree in every dimension but
  /// the first (the channels), so an output sample is the inputs' samples laid end to end.
  /// - Throws: `KernelShapeError` for fewer than two inputs, a non-f32 or empty input, or inputs whose
  ///   ranks or dimensions after the first differ.
  public static func make(name: String, inputs: [TensorType]) throws -> KernelFunction {
    guard inputs.count >= 2 else {
      throw KernelShapeError(kernel: name, "\(inputs.count) input(s); expected at least 2 to concatenate")
    }
    var parts: [ConcatContext.Part] = []
    var offset = 0
    for (i, t) in inputs.enumerated() {
      let count = try KernelChecks.require(t, "input \(i)", ranks: 1...Int.max, layout: "[C, …]", kernel: name)
      guard t.rank == inputs[0].rank, t.dims.dropFirst() == inputs[0].dims.dropFirst() else {
        throw KernelShapeError(
          kernel: name, "input \(i) is \(t); expected the dimensions of input 0 (\(inputs[0])) except the first")
      }
      parts.append(ConcatContext.Part(pointer: "x\(i)", floats: count, offset: offset))
      offset += count
      guard offset <= KernelChecks.maxElements else {
        throw KernelShapeError(kernel: name, "output holds more than \(KernelChecks.maxElements) values per sample")
      }
    }
    let context = ConcatContext(
      name: name, comment: "concat \(name)", inputs: parts, perSample: offset,
      parallelThreshold: elementwiseParallelThreshold)
    return KernelFunction(
      name: name, definition: TemplateRenderer.shared.render(context),
      parameters: parts.map { KernelParameter($0.pointer, .input, floats: $0.floats) }
        + [KernelParameter("y", .output, floats: offset)])
  }
}
