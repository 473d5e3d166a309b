// autodiff: appends the backward of the whole graph toward every trainable parameter, as gradient nodes.
import KilnIR

/// Reverse-mode differentiation of the training loss as a graph rewrite (Glow's `differentiate`, ggml's
/// `ggml_build_backward`): the same lowering, memory planner and emitter then run the backward like the forward.
///
/// 1. A conv or dense layer's fused activation is split into a node of its own (`<layer>.<act>`), so every
///    backward rule is one op's: `y = act(W∗x + b)` becomes `z = W∗x + b; y = act(z)`.
/// 2. A value needs a gradient when a trainable parameter reaches the loss through it: it has weights or
///    reads a value that needs one. Data inputs and targets never do.
/// 3. Nodes are visited in reverse order from the loss. For a node whose value received gradients, the
///    contributions of its readers are summed (`<value>.grad`, adds in a fixed order: the last reader's
///    contribution first), then one gradient node is appended per input that needs a gradient
///    (`<reader>.grad.x<k>`) and per trainable parameter (`<parameter>.grad`), each reading only what its
///    rule needs (`rule(for:target:)`), so forward values live exactly until their last gradient use.
///
/// The chain rule per op, with dy = ∂L/∂y (the rules' math is in `ReferenceGradients`):
///
///     dense   dx = dy·W          dW = dyᵀ·x           db = Σₙ dy
///     conv    dx = conv_transpose(dy, W)  dW = Σₙ dy ⋆ x   db = Σₙ,ₕ,ᵥ dy
///     add     dx₀ = dx₁ = dy (no node: the readers read dy itself)
///     mul     dx₀ = dy ⊙ x₁      dx₁ = dy ⊙ x₀
///     act     dx = dy ⊙ act′(y)  (from the output where possible, so x can die at the activation)
///     loss    dprediction = ∂loss/∂prediction (no dy: ∂L/∂L = 1)
///
/// A value no parameter depends on gets no gradient, and a parameter whose gradient never reaches the loss
/// gets no gradient node (PyTorch leaves its `.grad` None; the optimizer skips it).
public struct Autodiff: GraphPass {
  /// The pass's registered name.
  public static let passName = "autodiff"
  public let name = Autodiff.passName
  public var mode: PipelineMode

  /// A pass for `mode`; it does nothing in inference mode.
  public init(mode: PipelineMode = .training) { self.mode = mode }

  public func run(on graph: inout Graph) -> [Diagnostic] {
    guard mode == .training else { return [] }
    guard let loss = graph.lossNode, case .loss = loss.op else {
      return [Diagnostic(at: nil, "autodiff: graph '\(graph.name)' has no loss", expected: "a train section")]
    }
    if let untyped = graph.nodes.first(where: { $0.type == nil }) {
      return [Diagnostic(at: untyped.location, "autodiff: '\(untyped.name)' has no type; run shape-inference first")]
    }
    var g = Self.splittingActivations(graph)
    var builder = Builder(graph: g)
    builder.differentiate(loss: g.lossNode!.id)
    g = builder.graph
    graph = g
    return builder.problems
  }

  /// The graph with each conv/dense fused activation moved into an activation node of its own, right after
  /// the layer; readers, outputs and the training prediction then read the activation.
  static func splittingActivations(_ graph: Graph) -> Graph {
    var result = Graph(name: graph.name, outputs: [], training: graph.training)
    var remap: [NodeID: NodeID] = [:]
    for node in graph.nodes {
      var copy = node
      copy.id = NodeID(result.nodes.count)
      copy.inputs = node.inputs.map { remap[$0]! }
      var split: Activation?
      switch node.op {
      case .dense(var d) where d.activation != .identity:
        split = d.activation
        d.activation = .identity
        copy.op = .dense(d)
      case .conv2d(var c) where c.activation != .identity:
        split = c.activation
        c.activation = .identity
        copy.op = .conv2d(c)
      default:
        break
      }
      result.nodes.append(copy)
      remap[node.id] = copy.id
      if let a = split {
        let act = Node(
          id: NodeID(result.nodes.count), name: uniqueName("\(node.name).\(a.description)", in: graph),
          op: .activation(a), inputs: [copy.id], type: node.type, location: node.location)
        result.nodes.append(act)
        remap[node.id] = act.id
      }
    }
    result.outputs = graph.outputs.map { GraphOutput(name: $0.name, node: remap[$0.node]!, location: $0.location) }
    if let p = graph.training?.prediction { result.training?.prediction = remap[p]! }
    return result
  }

  static func uniqueName(_ base: String, in graph: Graph) -> String {
    var name = base
    var k = 2
    while graph.node(named: name) != nil {
      name = "\(base)_\(k)"
      k += 1
    }
    return name
  }
}
