// Removing nodes from a graph and renumbering what remains, shared by the passes that delete nodes.
import KilnIR

extension Graph {
  /// The graph without the removed nodes, renumbered so that every node's id is its index again.
  ///
  /// - Parameters:
  ///   - dropped: nodes that disappear; nothing that survives may read them.
  ///   - forwarded: nodes that disappear and whose readers read the mapped node instead (followed
  ///     through chains, so an identity of an identity resolves to the first real value).
  ///   - placed: surviving nodes that move: each takes the place, in node order, of the removed node it maps
  ///     to (fuse-epilogues moves a layer to its last absorbed node, after the operands it now reads).
  /// - Returns: the problems found; when there are any the graph is left unchanged.
  ///
  /// Every reference is rewritten: node inputs, `outputs`, and `training.prediction`. Names, types and
  /// locations of surviving nodes are kept, so parameter names (`<node>.weight`, …) do not change. A move
  /// that would leave a node before one of its inputs is reported, not made.
  mutating func removeNodes(
    dropping dropped: Set<NodeID>, forwarding forwarded: [NodeID: NodeID], placing placed: [NodeID: NodeID] = [:],
    pass: String
  ) -> [Diagnostic] {
    var newIndex: [NodeID: NodeID] = [:]
    var kept: [Node] = []
    var problems: [Diagnostic] = []
    var taken: Set<NodeID> = []
    for (node, place) in placed.sorted(by: { $0.key < $1.key }) {
      guard dropped.contains(place) || forwarded[place] != nil, taken.insert(place).inserted else {
        problems.append(
          Diagnostic(
            at: self[node].location, "\(pass): '\(self[node].name)' cannot take the place of \(place) ('\(self[place].name)')"))
        continue
      }
    }
    // Survivors sorted by the position they take: their own, or the removed node's they move to.
    let survivors = nodes.filter { !dropped.contains($0.id) && forwarded[$0.id] == nil }
      .sorted { (placed[$0.id] ?? $0.id) < (placed[$1.id] ?? $1.id) }
    for n in survivors {
      newIndex[n.id] = NodeID(kept.count)
      kept.append(n)
    }
    // NOTE: chains are finite because every forward points to an earlier node (inputs come first).
    func resolve(_ id: NodeID) -> NodeID? {
      var x = id
      while let next = forwarded[x] { x = next }
      return newIndex[x]
    }
    func fail(_ what: String, _ id: NodeID, at location: SourceLocation?) {
      problems.append(Diagnostic(at: location, "\(pass): \(what) reads removed node \(id) ('\(self[id].name)')"))
    }
    for k in kept.indices {
      let old = kept[k]
      kept[k].id = NodeID(k)
      kept[k].inputs = old.inputs.map { input in
        guard let r = resolve(input) else {
          fail("node '\(old.name)'", input, at: old.location)
          return input
        }
        return r
      }
      if let late = kept[k].inputs.first(where: { $0.index >= k }) {
        problems.append(
          Diagnostic(at: old.location, "\(pass): moving nodes would leave '\(old.name)' before its input \(late)"))
      }
    }
    var newOutputs = outputs
    for j in newOutputs.indices {
      guard let r = resolve(newOutputs[j].node) else {
        fail("output '\(newOutputs[j].name)'", newOutputs[j].node, at: newOutputs[j].location)
        continue
      }
      newOutputs[j].node = r
    }
    var newTraining = training
    if let t = training {
      if let r = resolve(t.prediction) {
        newTraining?.prediction = r
      } else {
        fail("the training section's prediction", t.prediction, at: t.location)
      }
    }
    guard problems.isEmpty else { return problems }
    nodes = kept
    outputs = newOutputs
    training = newTraining
    return []
  }
}
