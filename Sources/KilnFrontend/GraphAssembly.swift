// Semantic checks, part two: layer ops and inputs, order and cycles, outputs, and the training loss.

import KilnIR

extension GraphBuilder {
  /// Builds each layer's op from its attributes and resolves the values it reads.
  mutating func buildLayers() {
    for i in entities.indices {
      guard let layer = entities[i].layer, !layer.isBroken else { continue }
      let keyword = layer.keyword
      guard let entry = LayerCatalog.entry(for: keyword.text) else {
        let hint = closestWord(to: keyword.text, in: LayerCatalog.keywords).map { "; did you mean '\($0)'?" } ?? ""
        fail(keyword.location, "unknown op '\(keyword.text)'\(hint)",
          expected: "a layer keyword: \(LayerCatalog.keywords.joined(separator: ", "))")
        entities[i].isBroken = true
        continue
      }
      let owner = layer.name.map { "\(keyword.text) \($0.text)" } ?? keyword.text
      var attributes = Arguments(
        layer.attributes, of: owner, noun: "attribute", parameters: entry.attributes, at: keyword.location)
      let op = LayerCatalog.build(entry, &attributes)
      diagnostics += attributes.diagnostics
      let dependencies = readValues(of: layer, entry: entry, owner: owner, previous: entities[i].previous)
      entities[i].op = op
      entities[i].dependencies = dependencies ?? []
      if op == nil || dependencies == nil { entities[i].isBroken = true }
    }
  }

  /// The values a layer reads, or nil when that is wrong (reported) or reads something broken (quietly).
  private mutating func readValues(of layer: LayerStatement, entry: LayerEntry, owner: String, previous: Int?) -> [Int]? {
    let keyword = layer.keyword
    let usage: String
    switch entry.arity {
    case .one: usage = "one value: '\(keyword.text) NAME <- VALUE'"
    case .two: usage = "exactly two values: '\(keyword.text) NAME <- a, b'"
    case .atLeastTwo: usage = "two or more values: '\(keyword.text) NAME <- a, b, ...'"
    }
    guard let sources = layer.sources else {
      guard entry.arity == .one else {
        fail(keyword.location, "\(owner) has no '<-': it reads more than the previous value", expected: usage)
        return nil
      }
      guard let previous else {
        fail(keyword.location, "\(owner) has no value to read: no input or layer comes before it",
          expected: "an 'input' line before the first layer, or '<- VALUE'")
        return nil
      }
      return [previous]
    }
    let countIsRight: Bool
    switch entry.arity {
    case .one: countIsRight = sources.count == 1
    case .two: countIsRight = sources.count == 2
    case .atLeastTwo: countIsRight = sources.count >= 2
    }
    if !countIsRight {
      let extra = entry.arity == .atLeastTwo ? nil : sources.dropFirst(entry.arity == .one ? 1 : 2).first
      let noun = sources.count == 1 ? "value" : "values"
      fail(extra?.location ?? keyword.location, "\(owner) reads \(sources.count) \(noun)", expected: usage)
      return nil
    }
    var values: [Int] = []
    var ok = true
    for source in sources {
      switch lookUpValue(source, reader: owner) {
      case .value(let v): values.append(v)
      case .poisoned, .failed: ok = false
      }
    }
    return ok ? values : nil
  }

  /// Orders the values, reports cycles, and builds the graph with its outputs and training loss.
  mutating func assemble(name: String) -> Graph {
    let (order, cycles) = Ordering.sort(
      dependencies: entities.map(\.dependencies), excluded: entities.map { $0.isBroken || $0.op == nil })
    for cycle in cycles {
      let names = (cycle + [cycle[0]]).map { "'\(entities[$0].name)'" }.joined(separator: " -> ")
      fail(entities[cycle[0]].location, "cycle: \(names) (each feeds the next)",
        expected: "layers that read only values not computed from their own output")
    }
    var graph = Graph(name: name)
    var nodes: [Int: NodeID] = [:]
    for e in order {
      guard let op = entities[e].op else { continue }
      let inputs = entities[e].dependencies.compactMap { nodes[$0] }
      nodes[e] = graph.add(entities[e].name, op, inputs: inputs, location: entities[e].location)
    }
    for o in outputs where !o.isDropped && !o.statement.isBroken {
      guard let name = o.statement.name, let source = o.source, let node = nodes[source] else { continue }
      graph.outputs.append(GraphOutput(name: name.text, node: node, location: o.statement.location))
    }
    if outputs.isEmpty {
      fail(networkLocation, "network '\(name)' has no output",
        expected: "at least one 'output NAME' line (after the layer it names, or 'output NAME <- VALUE')")
    }
    if let settings = trainSettings { addLoss(settings, to: &graph, nodes: nodes) }
    return graph
  }

  /// Appends the target input and the loss node (last), and sets the training configuration.
  private mutating func addLoss(_ settings: TrainSettings, to graph: inout Graph, nodes: [Int: NodeID]) {
    let reader = "the loss"
    guard case .value(let e) = lookUpValue(settings.prediction, reader: reader), let prediction = nodes[e] else { return }
    let targetType = settings.loss.takesClassIndices ? TensorType(.i64, []) : TensorType(.f32, [])
    let target = graph.add(
      settings.target.text, .input(Input(type: targetType, role: .target)), location: settings.target.location)
    let taken = Set(graph.nodes.map(\.name)).union(definitionOrder)
    var lossName = "loss"
    var k = 0
    while taken.contains(lossName) {
      k += 1
      lossName = "loss_\(k)"
    }
    graph.add(lossName, .loss(settings.loss), inputs: [prediction, target], location: settings.lossLocation)
    graph.training = TrainingConfig(
      loss: settings.loss, prediction: prediction, targetName: settings.target.text, optimizer: settings.optimizer,
      regularization: settings.regularization, schedule: settings.schedule, batchSize: settings.batchSize,
      epochs: settings.epochs, validationSplit: settings.validationSplit,
      earlyStoppingPatience: settings.earlyStoppingPatience, seed: settings.seed, location: settings.location)
  }
}
