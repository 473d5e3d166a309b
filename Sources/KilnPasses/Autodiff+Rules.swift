// autodiff's reverse sweep and the operands each backward rule reads.
import KilnIR

extension Autodiff {
  /// The values a gradient toward `target` of a node computing `op` reads, fewest first: what the rule's
  /// formula needs (see the table in `Autodiff`). nil when there is no such gradient.
  public static func rule(for op: Op, target: Gradient.Target) -> [GradientOperand]? {
    switch (op, target) {
    case (.dense, .input(0)), (.conv2d, .input(0)):
      return [.outputGradient]  // dy·W: the weights come from params
    case (.dense, .parameter(.weight)), (.conv2d, .parameter(.weight)):
      return [.outputGradient, .forwardInput(0)]
    case (.dense, .parameter(.bias)), (.conv2d, .parameter(.bias)):
      return [.outputGradient]
    case (.maxPool, .input(0)), (.lrn, .input(0)):
      return [.outputGradient, .forwardInput(0)]
    case (.avgPool, .input(0)), (.globalAvgPool, .input(0)), (.flatten, .input(0)), (.reshape, .input(0)),
      (.dropout, .input(0)), (.concat, .input):
      return [.outputGradient]
    case (.mul, .input(0)): return [.outputGradient, .forwardInput(1)]
    case (.mul, .input(1)): return [.outputGradient, .forwardInput(0)]
    case (.batchNorm, .input(0)), (.batchNorm, .parameter(.weight)):
      return [.outputGradient, .forwardInput(0)]  // batch statistics are recomputed from x
    case (.batchNorm, .parameter(.bias)):
      return [.outputGradient]
    case (.activation(let a), .input(0)):
      return a.derivativeFollowsFromOutput ? [.outputGradient, .forwardOutput] : [.outputGradient, .forwardInput(0)]
    case (.loss, .input(0)):
      return [.forwardInput(0), .forwardInput(1)]
    default:
      return nil
    }
  }

  /// Appends gradient nodes to a graph, keeping it typed and topologically ordered.
  struct Builder {
    var graph: Graph
    var problems: [Diagnostic] = []
    /// For each forward value, the gradient contributions its readers sent, in the order they were sent.
    private var contributions: [NodeID: [NodeID]] = [:]

    init(graph: Graph) { self.graph = graph }

    /// Whether a trainable parameter reaches the loss through each node's value.
    func needsGradient() -> [Bool] {
      var needs = [Bool](repeating: false, count: graph.nodes.count)
      for n in graph.nodes {
        let types = n.inputs.map { graph[$0].type! }
        let trainable = n.parameters(inputTypes: types).contains(where: \.isTrainable)
        needs[n.id.index] = trainable || n.inputs.contains { needs[$0.index] }
      }
      return needs
    }

    mutating func differentiate(loss: NodeID) {
      let needs = needsGradient()
      let forwardCount = graph.nodes.count
      for index in stride(from: forwardCount - 1, through: 0, by: -1) {
        let node = graph.nodes[index]
        let dy: NodeID?
        if node.id == loss {
          dy = nil
        } else {
          guard needs[index], let sum = sumContributions(of: node) else { continue }
          dy = sum
        }
        let types = node.inputs.map { graph[$0].type! }
        if case .add = node.op {
          for x in node.inputs where needs[x.index] { contributions[x, default: []].append(dy!) }
          continue
        }
        for (k, x) in node.inputs.enumerated() where needs[x.index] {
          appendGradient(of: node, inputTypes: types, target: .input(k), dy: dy, name: "\(node.name).grad.x\(k)")
            .map { contributions[x, default: []].append($0) }
        }
        for spec in node.parameters(inputTypes: types) where spec.isTrainable {
          _ = appendGradient(of: node, inputTypes: types, target: .parameter(spec.kind), dy: dy, name: "\(spec.name).grad")
        }
      }
    }

    /// The sum of the gradients a value's readers sent: the one contribution, or `<value>.grad` adding them
    /// in the order they arrived (readers in reverse node order).
    private mutating func sumContributions(of node: Node) -> NodeID? {
      guard let parts = contributions[node.id], var total = parts.first else { return nil }
      for (i, part) in parts.dropFirst().enumerated() {
        let last = i == parts.count - 2
        let name = last ? "\(node.name).grad" : "\(node.name).grad.sum\(i + 1)"
        total = graph.add(name, .add, inputs: [total, part], location: node.location)
        graph[total].type = node.type
      }
      return total
    }

    private mutating func appendGradient(
      of node: Node, inputTypes: [TensorType], target: Gradient.Target, dy: NodeID?, name: String
    ) -> NodeID? {
      guard let operands = Autodiff.rule(for: node.op, target: target) else {
        problems.append(Diagnostic(at: node.location, "autodiff: \(node.op.name) '\(node.name)' has no gradient toward \(target)"))
        return nil
      }
      let gradient = Gradient(
        forward: node.op, forwardName: node.name, forwardInputTypes: inputTypes, target: target, operands: operands)
      let inputs: [NodeID] = operands.map {
        switch $0 {
        case .outputGradient: return dy!
        case .forwardInput(let k): return node.inputs[k]
        case .forwardOutput: return node.id
        }
      }
      let id = graph.add(name, .gradient(gradient), inputs: inputs, location: node.location)
      graph[id].type = gradient.resultType
      return id
    }
  }
}
