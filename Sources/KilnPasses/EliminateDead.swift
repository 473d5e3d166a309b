// eliminate-dead: removes every node that no output (and, in training, no loss) depends on.
import KilnIR

/// Deletes the nodes whose values nothing needs, then renumbers the rest.
///
/// Live values are the graph outputs, the training section's prediction (so the training
/// configuration stays valid), every loss and optimizer step in training mode, and everything they read, transitively.
/// Inputs are always kept: they are the module's interface, even when nothing reads them.
/// In inference mode the loss is dead (no output reads it), so it goes.
public struct EliminateDead: GraphPass {
  /// The pass's registered name.
  public static let passName = "eliminate-dead"
  public let name = EliminateDead.passName
  /// Training keeps the losses alive; inference does not.
  public var mode: PipelineMode

  /// A pass for `mode`.
  public init(mode: PipelineMode = .inference) { self.mode = mode }

  public func run(on graph: inout Graph) -> [Diagnostic] {
    var live = Set(graph.outputs.map(\.node))
    if let prediction = graph.training?.prediction { live.insert(prediction) }
    for n in graph.nodes {
      switch n.op {
      case .input: live.insert(n.id)
      case .loss where mode == .training: live.insert(n.id)
      // An optimizer step's effect is on the parameters, not a value: it is always needed.
      case .optimizerStep where mode == .training: live.insert(n.id)
      default: break
      }
    }
    // Nodes are in topological order, so one backward sweep marks everything the roots read.
    for n in graph.nodes.reversed() where live.contains(n.id) {
      live.formUnion(n.inputs)
    }
    let dead = Set(graph.nodes.map(\.id).filter { !live.contains($0) })
    guard !dead.isEmpty else { return [] }
    return graph.removeNodes(dropping: dead, forwarding: [:], pass: name)
  }
}
