// Structural checks of a graph, run after the frontend and after every pass in tests.

/// Checks the invariants every pass may rely on. Returns the problems found (empty when sound).
public enum Verifier {
  /// - Parameter requireTypes: also require every node to carry an inferred type (after shape inference).
  public static func verify(_ g: Graph, requireTypes: Bool = false) -> [Diagnostic] {
    var problems: [Diagnostic] = []
    func fail(_ n: Node?, _ message: String) {
      problems.append(Diagnostic(at: n?.location, "IR verifier: \(message)"))
    }
    var names: Set<String> = []
    for (i, n) in g.nodes.enumerated() {
      if n.id.index != i { fail(n, "node '\(n.name)' has id \(n.id) at position \(i)") }
      if !names.insert(n.name).inserted { fail(n, "duplicate node name '\(n.name)'") }
      for input in n.inputs where input.index < 0 || input.index >= i {
        fail(n, "node '\(n.name)' reads \(input), which does not come before it")
      }
      if let arity = n.op.arity {
        if n.inputs.count != arity { fail(n, "\(n.op.name) '\(n.name)' has \(n.inputs.count) inputs, needs \(arity)") }
      } else if n.inputs.count < 2 {
        fail(n, "\(n.op.name) '\(n.name)' has \(n.inputs.count) inputs, needs at least 2")
      }
      if requireTypes && n.type == nil { fail(n, "node '\(n.name)' has no type") }
      if case .input(let inp) = n.op, let t = n.type, t != inp.type {
        fail(n, "input '\(n.name)' has type \(t) but declares \(inp.type)")
      }
    }
    var outputNames: Set<String> = []
    for o in g.outputs {
      if o.node.index < 0 || o.node.index >= g.nodes.count { fail(nil, "output '\(o.name)' names missing node \(o.node)") }
      if !outputNames.insert(o.name).inserted { fail(nil, "duplicate output name '\(o.name)'") }
    }
    if g.outputs.isEmpty { fail(nil, "graph '\(g.name)' has no outputs") }
    return problems
  }
}
