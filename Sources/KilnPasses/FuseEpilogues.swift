// fuse-epilogues: a standalone elementwise activation after a conv or dense layer becomes that layer's epilogue.
import KilnIR

/// Moves each elementwise activation into the epilogue of the conv or dense layer it reads, when legal, so the
/// kernel applies it while the value is still in registers instead of a second pass over memory.
///
///     y = act(conv(x))   ⇒   conv(x, activation: act)
///
/// Legal only when the mode is inference; the activation is elementwise (softmax normalizes across units and
/// stays a kernel of its own); the layer's own activation is the identity; and the activation is the layer's
/// only reader and the layer's value is not an output (or the training prediction), since otherwise someone
/// still needs the value before the activation. The layer keeps its name, so its parameters keep theirs; the
/// activation disappears and its readers and outputs read the layer. A layer that has absorbed a batch norm
/// (fold-batchnorm runs first) fuses as well: act(W'x + b').
///
/// NOTE: residual adds and chains of elementwise ops in the epilogue (issue 4) are still separate kernels.
public struct FuseEpilogues: GraphPass {
  /// The pass's registered name.
  public static let passName = "fuse-epilogues"
  public let name = FuseEpilogues.passName
  public var mode: PipelineMode

  /// A pass for `mode`.
  public init(mode: PipelineMode = .inference) { self.mode = mode }

  public func run(on graph: inout Graph) -> [Diagnostic] {
    guard mode == .inference else { return [] }
    var fused = graph
    let consumers = graph.consumers()
    var kept = Set(graph.outputs.map(\.node))
    if let prediction = graph.training?.prediction { kept.insert(prediction) }
    var forwarded: [NodeID: NodeID] = [:]
    for act in graph.nodes {
      guard case .activation(let a) = act.op, a.isElementwise, a != .identity, act.inputs.count == 1 else { continue }
      let layerID = act.inputs[0]
      guard consumers[layerID] == [act.id], !kept.contains(layerID) else { continue }
      switch fused[layerID].op {
      case .conv2d(var c):
        guard c.activation == .identity else { continue }
        c.activation = a
        fused[layerID].op = .conv2d(c)
      case .dense(var d):
        guard d.activation == .identity else { continue }
        d.activation = a
        fused[layerID].op = .dense(d)
      default:
        continue
      }
      fused[layerID].absorbed.append(contentsOf: [act.name] + act.absorbed)
      forwarded[act.id] = layerID
    }
    guard !forwarded.isEmpty else { return [] }
    let problems = fused.removeNodes(dropping: [], forwarding: forwarded, pass: name)
    if problems.isEmpty { graph = fused }
    return problems
  }
}
