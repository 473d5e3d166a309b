// fuse-epilogues: the chain of elementwise ops after a conv or dense layer runs in that layer's kernel.
import KilnIR

/// Moves the chain of elementwise readers of each conv or dense layer into the layer, when legal, so the kernel
/// applies them while each value is still in registers instead of one more pass over memory per op:
///
///     y = act(conv(x))                  ⇒   conv(x) {activation: act}
///     y = relu(conv(x) + shortcut)      ⇒   conv(x, shortcut) {epilogue: [add, relu]}
///     y = tanh(relu(dense(x)) · gate)   ⇒   dense(x, gate) {activation: relu, epilogue: [mul, tanh]}
///
/// Where each op goes: an activation right after the layer, while the layer's own activation is the identity
/// and its epilogue is empty, becomes the layer's `activation` (what the kernels and the reference backward
/// already fuse); every later op is appended to `epilogue` (`EpilogueOp`), whose `add`/`mul` read the node's
/// extra inputs 1, 2, … in order. So a fused layer computes
///
///     v₀ = act(W∗x + b),   vₖ = eₖ(vₖ₋₁)  with eₖ(v) = a(v) | v + rⱼ | v · rⱼ,   y = v_last
///
/// the unfused ops' arithmetic, step for step (each in Float, as the interpreter and the standalone kernels do).
///
/// Walking from the layer, the next node joins the chain only when:
/// - the mode is inference (training differentiates the unfused graph);
/// - the current value (the layer's, or the last absorbed op's) has exactly that one reader and is not an
///   output or the training prediction: nobody else may need a value the fused kernel no longer writes;
/// - that reader is an elementwise activation other than the identity (softmax normalizes across units and
///   stays a kernel of its own; an identity is a view that remove-identities deletes), or an `add`/`mul` of the
///   current value and another value: `add(v, v)` is not fused (both operands are the layer's value);
/// - the layer's own activation is elementwise (a fused softmax is lowered to a kernel after the layer, which
///   an epilogue cannot follow).
/// The other operand r of an `add`/`mul` never depends on the layer: the layer's value reaches nothing but the
/// chain, one reader at a time, so a path from the layer to r would make r a chain member read twice. It is
/// available when the fused kernel runs once the layer stands where the last absorbed op stood: so when some
/// operand is defined after the layer, the layer moves there (`removeNodes(placing:)` renumbers every
/// reference and keeps node order topological).
///
/// Layers are visited in node order, and the first to reach an op absorbs it: in ResNet's projection block
/// `relu(bn(conv2(…)) + bn(proj(…)))` the main-path conv2 takes the add and moves after the projection. The
/// layer keeps its name (its parameters keep theirs) and lists the absorbed nodes' names in `absorbed`; the
/// absorbed nodes disappear and their readers and outputs read the layer. A layer that has absorbed a batch
/// norm (fold-batchnorm runs first) fuses as well: the chain then reads act(W'x + b').
public struct FuseEpilogues: GraphPass {
  /// The pass's registered name.
  public static let passName = "fuse-epilogues"
  public let name = FuseEpilogues.passName
  public var mode: PipelineMode

  /// A pass for `mode`.
  public init(mode: PipelineMode = .inference) { self.mode = mode }

  public func run(on graph: inout Graph) -> [Diagnostic] {
    guard mode == .inference else { return [] }
    // NOTE: rewrites go to a copy, so a failed removal leaves the graph exactly as it was.
    var fused = graph
    let consumers = graph.consumers()
    var kept = Set(graph.outputs.map(\.node))
    if let prediction = graph.training?.prediction { kept.insert(prediction) }
    var forwarded: [NodeID: NodeID] = [:]
    var placed: [NodeID: NodeID] = [:]
    for layer in graph.nodes {
      guard var fusion = LayerFusion(layer.op) else { continue }
      var current = layer.id
      var operands: [NodeID] = []
      var chain: [Node] = []
      walk: while true {
        guard let readers = consumers[current], readers.count == 1, !kept.contains(current) else { break walk }
        let next = graph[readers[0]]
        // The other operand's chain may have absorbed this add or mul already.
        guard forwarded[next.id] == nil else { break walk }
        switch next.op {
        case .activation(let a) where a.isElementwise && a != .identity && next.inputs == [current]:
          fusion.append(.activation(a))
        case .add, .mul:
          // add(v, v) reads the layer's value twice: not an epilogue with one operand.
          guard next.inputs.count == 2, next.inputs.filter({ $0 == current }).count == 1 else { break walk }
          operands.append(next.inputs[0] == current ? next.inputs[1] : next.inputs[0])
          fusion.append(next.op == .add ? .add : .mul)
        default:
          break walk
        }
        chain.append(next)
        current = next.id
      }
      guard let last = chain.last else { continue }
      fused[layer.id].op = fusion.op
      fused[layer.id].inputs += operands
      fused[layer.id].absorbed += chain.flatMap { [$0.name] + $0.absorbed }
      for node in chain { forwarded[node.id] = layer.id }
      // The operands are defined before their readers in the chain, so all of them before `last`.
      if operands.contains(where: { $0 > layer.id }) { placed[layer.id] = last.id }
    }
    guard !forwarded.isEmpty else { return [] }
    let problems = fused.removeNodes(dropping: [], forwarding: forwarded, placing: placed, pass: name)
    if problems.isEmpty { graph = fused }
    return problems
  }
}

/// A conv or dense op taking on elementwise ops: the first activation into `activation`, the rest into `epilogue`.
private struct LayerFusion {
  var op: Op

  /// Starts a fusion for a conv or dense layer whose own activation is elementwise; nil for any other op.
  init?(_ op: Op) {
    switch op {
    case .conv2d(let c) where c.activation.isElementwise: self.op = op
    case .dense(let d) where d.activation.isElementwise: self.op = op
    default: return nil
    }
  }

  mutating func append(_ e: EpilogueOp) {
    func place(_ activation: inout Activation, _ epilogue: inout [EpilogueOp]) {
      if case .activation(let a) = e, activation == .identity, epilogue.isEmpty {
        activation = a
      } else {
        epilogue.append(e)
      }
    }
    switch op {
    case .conv2d(var c):
      place(&c.activation, &c.epilogue)
      op = .conv2d(c)
    case .dense(var d):
      place(&d.activation, &d.epilogue)
      op = .dense(d)
    default:
      break
    }
  }
}
