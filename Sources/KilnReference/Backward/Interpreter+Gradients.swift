// Whole-graph gradients: a training-mode forward, then every node's VJP in reverse, summing over consumers.
import KilnIR

/// What one forward-and-backward pass of a graph produced.
public struct GradientResult: Hashable, Sendable {
  /// The loss of the training-mode forward, as `Interpreter.run(_:mode:)` computes it.
  public var loss: Double
  /// ∂loss/∂p for every trainable parameter (weights and biases, by `Node.parameters` name, e.g. `c1.weight`);
  /// zeros for a parameter the loss does not depend on.
  public var parameterGradients: [String: Tensor]
  /// ∂loss/∂x for every data input, by input name (targets get none).
  public var inputGradients: [String: Tensor]
  /// The batch-norm running statistics the training forward updated, by parameter name.
  public var updatedParameters: [String: Tensor]
}

/// The same as `GradientResult` in Double, from the all-Double forward (no running statistics).
public struct DoubleGradientResult: Hashable, Sendable {
  /// The loss of the Double training-mode forward.
  public var loss: Double
  /// ∂loss/∂p for every trainable parameter.
  public var parameterGradients: [String: DoubleTensor]
  /// ∂loss/∂x for every data input.
  public var inputGradients: [String: DoubleTensor]
}

/// Why a graph cannot be differentiated.
public enum GradientError: Error, Hashable, Sendable, CustomStringConvertible {
  /// The graph has no loss node (no train section).
  case noLoss(graph: String)
  /// The target the loss compares against was not among the inputs.
  case missingTarget(name: String, loss: String)
  /// A conv or dense layer carries a folded batch norm (an inference rewrite); training needs the unfolded graph.
  case foldedBatchNorm(node: String)
  /// A conv or dense layer carries an epilogue (a fuse-epilogues rewrite, inference-only); training runs unfused.
  case fusedEpilogue(node: String)
  /// A Double override names no parameter or data input of the graph, or has the wrong shape.
  case badOverride(name: String, expected: [Int]?, found: [Int])

  public var description: String {
    switch self {
    case .noLoss(let graph):
      return "graph '\(graph)' has no loss; expected a train section with 'loss: KIND(PREDICTION, TARGET)'"
    case .missingTarget(let name, let loss):
      return "loss '\(loss)' needs target '\(name)'; expected it among the inputs"
    case .foldedBatchNorm(let node):
      return "layer '\(node)' has a folded batch norm; expected the unfolded graph (fold-batchnorm is inference-only)"
    case .fusedEpilogue(let node):
      return "layer '\(node)' has a fused epilogue; expected the unfused graph (fuse-epilogues is inference-only)"
    case .badOverride(let name, let expected?, let found):
      return "override '\(name)' has shape \(found); expected \(expected)"
    case .badOverride(let name, nil, _):
      return "override '\(name)' names no parameter or data input of the graph"
    }
  }
}

extension Interpreter {
  /// Runs the graph in training mode (batch statistics, dropout masks from `seed`) and differentiates its
  /// loss: every node's VJP (`ReferenceGradients`) in reverse node order, in Double on the Float forward's
  /// values. A value read by several nodes gets the sum of their contributions, added in reverse node
  /// order of the readers (a fixed order, so results are reproducible). Gradients are rounded to Float once.
  /// - Parameter inputs: every data input and the loss's target (class labels or floats), batch first.
  /// - Throws: `GradientError` without a loss, its target or with a folded batch norm or a fused epilogue; `InterpreterError` for
  ///   bad inputs or a node that cannot be computed.
  public func gradients(_ inputs: [String: AnyTensor], seed: UInt64) throws -> GradientResult {
    let lossNode = try checkTrainable(inputs)
    let forward = try run(inputs, mode: .training(seed: seed))
    guard let loss = forward.loss else {
      throw GradientError.missingTarget(name: graph[lossNode.inputs[1]].name, loss: lossNode.name)
    }
    let values = graph.nodes.map { forward.values[$0.id].map(DoubleTensor.init) }
    let grads = try backward(values: values, inputs: inputs, parameters: doubleParameters(), seed: seed)
    return GradientResult(
      loss: loss, parameterGradients: grads.parameters.mapValues(\.float),
      inputGradients: grads.inputs.mapValues(\.float),
      updatedParameters: forward.updatedParameters)
  }

  /// The loss and its gradients with forward and backward wholly in Double: the oracle of finite-difference
  /// checks. `overrides` replace parameters or data inputs of the same name (same shape) for this call.
  public func gradientsInDouble(
    _ inputs: [String: AnyTensor], overrides: [String: DoubleTensor] = [:], seed: UInt64
  ) throws -> DoubleGradientResult {
    let (values, loss) = try valuesInDouble(inputs, overrides: overrides, seed: seed)
    var parameters = doubleParameters()
    parameters.merge(overrides.filter { parameters[$0.key] != nil }) { _, new in new }
    let grads = try backward(values: values, inputs: inputs, parameters: parameters, seed: seed)
    return DoubleGradientResult(loss: loss, parameterGradients: grads.parameters, inputGradients: grads.inputs)
  }

  /// The training-mode forward computed wholly in Double, with `overrides` as in `gradientsInDouble`:
  /// the loss, and every float value by node (inputs included).
  public func forwardInDouble(
    _ inputs: [String: AnyTensor], overrides: [String: DoubleTensor] = [:], seed: UInt64
  ) throws -> (loss: Double, values: [NodeID: DoubleTensor]) {
    let (values, loss) = try valuesInDouble(inputs, overrides: overrides, seed: seed)
    var byNode: [NodeID: DoubleTensor] = [:]
    for (i, v) in values.enumerated() { byNode[NodeID(i)] = v }
    return (loss, byNode)
  }

  /// The loss node, after checking that there is one, that its target is given and that no layer is folded or
  /// carries an epilogue.
  private func checkTrainable(_ inputs: [String: AnyTensor]) throws -> Node {
    guard let lossNode = graph.lossNode else { throw GradientError.noLoss(graph: graph.name) }
    for node in graph.nodes {
      switch node.op {
      case .dense(let d) where d.foldedBatchNorm != nil: throw GradientError.foldedBatchNorm(node: node.name)
      case .conv2d(let c) where c.foldedBatchNorm != nil: throw GradientError.foldedBatchNorm(node: node.name)
      case .dense(let d) where !d.epilogue.isEmpty: throw GradientError.fusedEpilogue(node: node.name)
      case .conv2d(let c) where !c.epilogue.isEmpty: throw GradientError.fusedEpilogue(node: node.name)
      default: break
      }
    }
    let target = graph[lossNode.inputs[1]]
    if case .input = target.op, inputs[target.name] == nil {
      throw GradientError.missingTarget(name: target.name, loss: lossNode.name)
    }
    return lossNode
  }

  /// The parameters the kernels read, exactly in Double.
  private func doubleParameters() -> [String: DoubleTensor] {
    var result: [String: DoubleTensor] = [:]
    for node in graph.nodes {
      for spec in node.kernelParameters(inputTypes: node.inputs.map { types[$0.index] }) {
        result[spec.name] = parameters[spec.name].map(DoubleTensor.init)
      }
    }
    return result
  }

  /// Every node's value from the all-Double forward, and the loss.
  private func valuesInDouble(
    _ inputs: [String: AnyTensor], overrides: [String: DoubleTensor], seed: UInt64
  ) throws -> (values: [DoubleTensor?], loss: Double) {
    let lossNode = try checkTrainable(inputs)
    let inputNodes = graph.nodes.filter { if case .input = $0.op { return true } else { return false } }
    for name in inputs.keys.sorted() where !inputNodes.contains(where: { $0.name == name }) {
      throw InterpreterError.unknownInput(name: name, known: inputNodes.map(\.name))
    }
    try checkInputs(inputs, inputNodes: inputNodes)
    var parameters = doubleParameters()
    var values: [DoubleTensor?] = Array(repeating: nil, count: graph.nodes.count)
    for (name, value) in overrides.sorted(by: { $0.key < $1.key }) {
      if let current = parameters[name] {
        guard current.shape == value.shape else {
          throw GradientError.badOverride(name: name, expected: current.shape, found: value.shape)
        }
        parameters[name] = value
      } else if let node = inputNodes.first(where: { $0.name == name }), case .f32(let given)? = inputs[name] {
        guard given.shape == value.shape else {
          throw GradientError.badOverride(name: name, expected: given.shape, found: value.shape)
        }
        values[node.id.index] = value
      } else {
        throw GradientError.badOverride(name: name, expected: nil, found: value.shape)
      }
    }
    for node in graph.nodes {
      if case .input = node.op {
        if values[node.id.index] == nil, case .f32(let t)? = inputs[node.name] {
          values[node.id.index] = DoubleTensor(t)
        }
        continue
      }
      // A node reading an absent target (only the loss may) is skipped, as `run` does.
      if node.inputs.contains(where: { values[$0.index] == nil && inputs[graph[$0].name] == nil }) { continue }
      values[node.id.index] = try attributed(node) {
        try context(node, values: values, inputs: inputs, parameters: parameters, seed: seed).forward()
      }
    }
    guard let loss = values[lossNode.id.index]?.data.first else {
      throw GradientError.missingTarget(name: graph[lossNode.inputs[1]].name, loss: lossNode.name)
    }
    return (values, loss)
  }

  /// The reverse walk from the loss (seeded with ∂loss/∂loss = 1) over the forward's values.
  private func backward(
    values: [DoubleTensor?], inputs: [String: AnyTensor], parameters: [String: DoubleTensor], seed: UInt64
  ) throws -> (parameters: [String: DoubleTensor], inputs: [String: DoubleTensor]) {
    guard let lossNode = graph.lossNode else { throw GradientError.noLoss(graph: graph.name) }
    var grads: [DoubleTensor?] = Array(repeating: nil, count: graph.nodes.count)
    grads[lossNode.id.index] = DoubleTensor(checked: [], [1])
    var parameterGrads: [String: DoubleTensor] = [:]
    for node in graph.nodes.reversed() {
      guard let dy = grads[node.id.index] else { continue }
      if case .input = node.op { continue }
      let result = try attributed(node) {
        try context(node, values: values, inputs: inputs, parameters: parameters, seed: seed).backward(dy)
      }
      for (k, g) in zip(node.inputs, result.operands) {
        guard let g else { continue }
        // NOTE: readers are visited in reverse node order, so each sum is formed in one fixed order.
        grads[k.index] =
          grads[k.index].map { DoubleTensor(checked: g.shape, zip($0.data, g.data).map { $0 + $1 }) } ?? g
      }
      for (name, g) in result.parameters { parameterGrads[name] = g }
    }
    for node in graph.nodes {
      for spec in node.kernelParameters(inputTypes: node.inputs.map { types[$0.index] })
      where spec.isTrainable && parameterGrads[spec.name] == nil {
        parameterGrads[spec.name] = DoubleTensor(zeros: spec.dims)
      }
    }
    var inputGrads: [String: DoubleTensor] = [:]
    for node in graph.inputs(role: .data) {
      guard let value = values[node.id.index] else { continue }
      inputGrads[node.name] = grads[node.id.index] ?? DoubleTensor(zeros: value.shape)
    }
    return (parameterGrads, inputGrads)
  }

  /// A node's operands in Double: float values, and the loss target as given.
  private func context(
    _ node: Node, values: [DoubleTensor?], inputs: [String: AnyTensor], parameters: [String: DoubleTensor],
    seed: UInt64
  ) -> NodeContext {
    var target: AnyTensor?
    if case .loss = node.op {
      let t = graph[node.inputs[1]]
      target = inputs[t.name] ?? values[t.id.index].map { .f32($0.float) }
    }
    return NodeContext(
      node: node, operands: node.inputs.map { values[$0.index] }, target: target, parameters: parameters, seed: seed)
  }

  /// Runs `body`, naming the node in any op-level error.
  private func attributed<T>(_ node: Node, _ body: () throws -> T) throws -> T {
    do { return try body() } catch let e as ReferenceError {
      throw InterpreterError.nodeFailed(node: node.name, op: node.op.name, location: node.location, reason: e.message)
    }
  }
}
