// remove-identities: removes ops that pass their input through unchanged, so readers read the input.
import KilnIR

/// Removes nodes whose value equals their input's, bit for bit:
///
/// - `dropout` in inference mode (and with rate 0 in any mode): identity by definition;
/// - a standalone `identity` activation;
/// - `flatten` and `reshape` whose output type equals their input type (e.g. flatten of a vector).
///
/// Every reader of a removed node, every output naming it and the training prediction are rewired to
/// its input (through chains of identities). Surviving nodes keep their names, so parameters keep theirs.
/// Training-mode dropout with a positive rate is random, not an identity, and is kept.
public struct RemoveIdentities: GraphPass {
  /// The pass's registered name.
  public static let passName = "remove-identities"
  public let name = RemoveIdentities.passName
  /// Dropout is an identity only at inference.
  public var mode: PipelineMode

  /// A pass for `mode`.
  public init(mode: PipelineMode = .inference) { self.mode = mode }

  public func run(on graph: inout Graph) -> [Diagnostic] {
    var forwarded: [NodeID: NodeID] = [:]
    for n in graph.nodes {
      guard n.inputs.count == 1, isIdentity(n, in: graph) else { continue }
      forwarded[n.id] = n.inputs[0]
    }
    guard !forwarded.isEmpty else { return [] }
    return graph.removeNodes(dropping: [], forwarding: forwarded, pass: name)
  }

  /// Whether `n` passes its single input through unchanged.
  func isIdentity(_ n: Node, in graph: Graph) -> Bool {
    switch n.op {
    case .dropout(let rate):
      return mode == .inference || rate == 0
    case .activation(.identity):
      return true
    case .flatten, .reshape:
      // Only a no-op when the per-sample type is unchanged; without types nothing is known.
      guard let out = n.type, let input = graph[n.inputs[0]].type else { return false }
      return out == input
    default:
      return false
    }
  }
}
