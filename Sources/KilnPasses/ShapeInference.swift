// shape-inference: gives every node its per-sample type, and reports every shape error with its location.
import KilnIR

/// Infers `Node.type` for every node in order. A node whose inputs have no type (because of an
/// earlier error) is skipped silently, so each mistake is reported once.
public struct ShapeInference: GraphPass {
  public let name = "shape-inference"
  public init() {}

  public func run(on graph: inout Graph) -> [Diagnostic] {
    var problems: [Diagnostic] = []
    // Targets take their type from the loss that reads them, which comes later in the graph.
    var targetTypes: [NodeID: TensorType] = [:]
    for n in graph.nodes {
      guard case .loss(let kind) = n.op, n.inputs.count == 2 else { continue }
      targetTypes[n.inputs[1]] = kind.takesClassIndices ? TensorType(.i64, []) : nil
    }
    for i in graph.nodes.indices {
      let node = graph.nodes[i]
      let inputTypes = node.inputs.compactMap { graph[$0].type }
      guard inputTypes.count == node.inputs.count else { continue }
      switch Self.infer(node, inputTypes, graph: graph) {
      case .success(let t):
        graph.nodes[i].type = t
        // A float target's dims come from its prediction.
        if case .loss(let kind) = node.op, !kind.takesClassIndices {
          targetTypes[node.inputs[1]] = inputTypes[0]
        }
      case .failure(let d): problems.append(d)
      }
    }
    // Fill in targets now that their losses are typed.
    for (id, t) in targetTypes.sorted(by: { $0.key < $1.key }) {
      guard case .input(var inp) = graph[id].op else { continue }
      inp.type = t
      graph[id].op = .input(inp)
      graph[id].type = t
    }
    return problems
  }

  /// The type of one node's value, or a located diagnostic saying what is wrong.
  static func infer(_ n: Node, _ ins: [TensorType], graph: Graph) -> Result<TensorType, Diagnostic> {
    func fail(_ message: String, expected: String? = nil) -> Result<TensorType, Diagnostic> {
      .failure(Diagnostic(at: n.location, "\(n.op.name) '\(n.name)': \(message)", expected: expected))
    }
    let what = "\(n.op.name) '\(n.name)'"
    switch n.op {
    case .gradient(let g):
      // Autodiff typed these when it built them; re-inference checks the operands still match.
      guard g.operands.count == ins.count else { return fail("has \(ins.count) inputs", expected: "\(g.operands.count)") }
      for (role, t) in zip(g.operands, ins) {
        if case .forwardInput(let k) = role, g.forwardInputTypes.indices.contains(k), g.forwardInputTypes[k] != t {
          return fail("operand \(role) has type \(t)", expected: "\(g.forwardInputTypes[k])")
        }
      }
      guard let type = g.resultType else { return fail("\(g.forward.name) '\(g.forwardName)' has no \(g.target)") }
      return .success(type)
    case .optimizerStep(let step):
      let expected = TensorType(.f32, step.dims, batched: false)
      guard ins == [expected] else { return fail("found \(ins.map(\.description))", expected: "[\(expected)] unbatched") }
      return .success(TensorType.empty)
    default:
      break
    }
    // Every op but a loss's target reads float data.
    for (k, t) in ins.enumerated() where t.dtype != .f32 {
      if case .loss = n.op, k == 1 { continue }
      return fail("input '\(graph[n.inputs[k]].name)' holds \(t.dtype.rawValue) class labels", expected: "f32 data")
    }
    if n.op.arity != 0 && ins.isEmpty { return fail("has no input") }
    if n.op.arity == 2 && ins.count != 2 { return fail("has \(ins.count) inputs", expected: "2") }
    let x = ins.first
    let x0 = x ?? TensorType(.f32, [])
    switch n.op {
    case .input(let inp):
      if inp.role == .data && inp.type.dims.contains(where: { $0 <= 0 }) {
        return fail("dimensions must be positive, found \(inp.type)")
      }
      return .success(inp.type)

    case .dense(let d):
      guard let x, x.rank == 1 else {
        return fail("found input \(ins[0])", expected: "one feature dimension, f32[features]; add 'flatten' before it")
      }
      guard d.units > 0 else { return fail("units must be positive, found \(d.units)") }
      return epilogue(d.epilogue, TensorType(.f32, [d.units]))

    case .conv2d(let c):
      guard let x, x.rank == 3 else { return fail("found input \(ins[0])", expected: "an image, f32[channels, height, width]") }
      let ch = x.dims[0]
      guard c.groups > 0, ch % c.groups == 0 else {
        return fail("\(ch) input channels are not divisible by groups = \(c.groups)")
      }
      guard c.filters % c.groups == 0 else {
        return fail("filters = \(c.filters) is not divisible by groups = \(c.groups)")
      }
      switch window(c.window, x) {
      case .success(let out): return epilogue(c.epilogue, TensorType(.f32, [c.filters, out.h, out.w]))
      case .failure(let e): return .failure(located(e))
      }

    case .maxPool(let p), .avgPool(let p):
      guard let x, x.rank == 3 else { return fail("found input \(ins[0])", expected: "an image, f32[channels, height, width]") }
      if case .explicit(let pads) = p.padding,
        max(pads.top, pads.bottom) * 2 > p.kernel.h || max(pads.left, pads.right) * 2 > p.kernel.w
      {
        return fail("padding \(pads) is more than half the kernel \(p.kernel)", expected: "padding at most kernel/2 (as PyTorch)")
      }
      return window(p.window, x).map { TensorType(.f32, [x.dims[0], $0.h, $0.w]) }.mapError(located)

    case .globalAvgPool:
      guard let x, x.rank == 3 else { return fail("found input \(ins[0])", expected: "an image, f32[channels, height, width]") }
      return .success(TensorType(.f32, [x.dims[0]]))

    case .flatten:
      return .success(TensorType(.f32, [x0.elementCount]))

    case .reshape(let dims):
      let known = dims.filter { $0 != -1 }
      let unknown = dims.count - known.count
      guard unknown <= 1, known.allSatisfy({ $0 > 0 }) else {
        return fail("shape \(dims) may hold at most one -1 and otherwise positive sizes")
      }
      let product = known.reduce(1, *)
      let total = x0.elementCount
      if unknown == 1 {
        guard total % product == 0 else { return fail("cannot reshape \(x0) (\(total) elements) to \(dims)") }
        return .success(TensorType(.f32, dims.map { $0 == -1 ? total / product : $0 }))
      }
      guard product == total else { return fail("cannot reshape \(x0) (\(total) elements) to \(dims) (\(product) elements)") }
      return .success(TensorType(.f32, dims))

    case .concat:
      guard ins.allSatisfy({ $0.rank >= 1 && $0.rank == x0.rank && Array($0.dims.dropFirst()) == Array(x0.dims.dropFirst()) })
      else {
        let list = zip(n.inputs, ins).map { "'\(graph[$0].name)' \($1)" }.joined(separator: ", ")
        return fail("shape mismatch: \(list)", expected: "equal shapes except the channel dimension")
      }
      return .success(TensorType(.f32, [ins.map { $0.dims[0] }.reduce(0, +)] + x0.dims.dropFirst()))

    case .add, .mul:
      guard ins[0] == ins[1] else {
        return fail(
          "shape mismatch: '\(graph[n.inputs[0]].name)' is \(ins[0]) but '\(graph[n.inputs[1]].name)' is \(ins[1])",
          expected: "two values of the same shape")
      }
      return .success(ins[0])

    case .batchNorm, .lrn:
      guard let x, x.rank >= 1 else { return fail("found input \(ins[0])", expected: "a value with a channel dimension") }
      if case .lrn(let l) = n.op, l.size < 1 { return fail("size must be positive, found \(l.size)") }
      return .success(x)

    case .dropout(let rate):
      guard rate >= 0, rate < 1 else { return fail("rate must be in [0, 1), found \(rate)") }
      return .success(x0)

    case .activation(let a):
      if !a.isElementwise, x0.rank < 1 { return fail("found \(x0)", expected: "a value with a dimension to normalize over") }
      return .success(x0)

    case .loss(let kind):
      let (pred, target) = (ins[0], ins[1])
      if kind.takesClassIndices {
        guard pred.rank == 1 else {
          return fail("found prediction \(pred)", expected: "logits f32[classes] per sample")
        }
        guard target.dtype == .i64 else { return fail("found target \(target)", expected: "i64 class indices") }
      } else if target.dtype != .f32 {
        return fail("found target \(target)", expected: "f32 values shaped like the prediction \(pred)")
      }
      return .success(TensorType(.f32, [], batched: false))

    case .gradient, .optimizerStep:
      return fail("was not typed")  // handled above
    }

    /// The layer's type `out`, once every epilogue operand (inputs 1, 2, …) is of that type and every epilogue
    /// activation is elementwise.
    func epilogue(_ ops: [EpilogueOp], _ out: TensorType) -> Result<TensorType, Diagnostic> {
      for case .activation(let a) in ops where !a.isElementwise {
        return fail("epilogue holds \(a), which normalizes across units", expected: "elementwise activations")
      }
      for (k, t) in ins.enumerated().dropFirst() where t != out {
        return fail(
          "epilogue operand \(k) '\(graph[n.inputs[k]].name)' is \(t) but the layer's value is \(out)",
          expected: "an operand of the layer's output type \(out)")
      }
      return .success(out)
    }
    func window(_ w: Window2D, _ x: TensorType) -> Result<Pair, WindowError> {
      w.outputSize(inputH: x.dims[1], inputW: x.dims[2])
    }
    func located(_ e: WindowError) -> Diagnostic {
      Diagnostic(at: n.location, "\(what): \(e)")
    }
  }
}
