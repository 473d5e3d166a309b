// The backward of the data-movement ops: reshape and flatten (a copy), concat (a slice) and mul (a product).
import KilnIR

/// Context of `slice_copy.c.mustache`.
public struct SliceCopyContext: KernelContext {
  public static let template = "slice_copy"
  /// The C function name and the text of its leading comment.
  public var name, comment: String
  /// Values per sample of dy, the slice's source.
  public var perSample: Int
  /// Where the slice starts in a dy sample, and its length (dx's values per sample).
  public var offset, floats: Int
  /// Below this many copied values the loop runs on one thread.
  public var parallelThreshold: Int

  public static let sample = SliceCopyContext(
    name: "k1_grad_c", comment: "concat gradient c", perSample: 12, offset: 8, floats: 4,
    parallelThreshold: elementwiseParallelThreshold)
}

/// The gradient kernels of `flatten`, `reshape`, `concat` and `mul` toward an input.
enum ShapeGradientKernel {
  /// dx = dy read in the input's shape (the same values per sample, in the same order): a copy.
  ///
  /// NOTE: lowering may later make this a view of dy's buffer; the kernel keeps the step self-contained.
  static func makeReshape(_ node: GradientNode) throws -> KernelFunction {
    let input = try node.forwardInput(0)
    let count = try KernelChecks.require(input, "input", ranks: 1...Int.max, layout: "[d1, …]", kernel: node.name)
    guard node.inputTypes[0].dtype == .f32, node.inputTypes[0].batched, node.inputTypes[0].elementCount == count
    else {
      throw node.error("dy is \(node.inputTypes[0]); expected \(count) f32 values per sample, like \(input)")
    }
    return slice(node, perSample: count, offset: 0, floats: count, what: "\(node.gradient.forward.name) gradient")
  }

  /// dx of concat input `k`: dy's slice of that input's C_k·inner values at its offset in each sample.
  static func makeConcat(_ node: GradientNode, input k: Int) throws -> KernelFunction {
    let inputs = node.gradient.forwardInputTypes
    guard inputs.indices.contains(k) else { throw node.error("has no input \(k)") }
    var offset = 0
    var counts: [Int] = []
    for (i, t) in inputs.enumerated() {
      let count = try KernelChecks.require(t, "input \(i)", ranks: 1...Int.max, layout: "[C, …]", kernel: node.name)
      guard t.rank == inputs[0].rank, t.dims.dropFirst() == inputs[0].dims.dropFirst() else {
        throw node.error("input \(i) is \(t); expected the dimensions of input 0 (\(inputs[0])) except the first")
      }
      counts.append(count)
      if i < k { offset += count }
    }
    let total = counts.reduce(0, +)
    guard total <= KernelChecks.maxElements else {
      throw node.error("output holds more than \(KernelChecks.maxElements) values per sample")
    }
    let channels = inputs.map { $0.dims[0] }.reduce(0, +)
    _ = try node.operand(0, dims: [channels] + inputs[0].dims.dropFirst())
    return slice(node, perSample: total, offset: offset, floats: counts[k], what: "concat gradient x\(k)")
  }

  /// dx_k = dy ⊙ x_(1−k), the other operand: a float product, which equals the reference's double product
  /// rounded once. Parameters `a` (dy), `b` (the other operand), `y` (dx), as `ElementwiseBinaryKernel` names them.
  static func makeMul(_ node: GradientNode, input k: Int) throws -> KernelFunction {
    let type = try node.forwardInput(k)
    let count = try KernelChecks.require(type, "input", ranks: 1...Int.max, layout: "[d1, …]", kernel: node.name)
    guard node.gradient.forwardInputTypes.count == 2, node.gradient.forwardInputTypes[1 - k] == type else {
      throw node.error("inputs \(node.gradient.forwardInputTypes); expected two of one type")
    }
    _ = try node.operand(0, dims: type.dims)
    _ = try node.operand(1, dims: type.dims)
    return ElementwiseBinaryKernel.make(name: node.name, op: .mul, perSample: count)
  }

  private static func slice(
    _ node: GradientNode, perSample: Int, offset: Int, floats: Int, what: String
  ) -> KernelFunction {
    let context = SliceCopyContext(
      name: node.name, comment: "\(what) \(node.layer)", perSample: perSample, offset: offset,
      floats: floats, parallelThreshold: elementwiseParallelThreshold)
    return KernelFunction(
      name: node.name, definition: TemplateRenderer.shared.render(context),
      parameters: [KernelParameter("dy", .input, floats: perSample), KernelParameter("dx", .output, floats: floats)])
  }
}
