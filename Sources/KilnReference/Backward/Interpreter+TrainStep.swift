// One training step of a differentiated graph: forward, backward (its gradient nodes), then the updates.
import KilnIR

/// What one training step produced.
public struct TrainStepResult: Hashable, Sendable {
  /// The loss of the step's forward, before the update.
  public var loss: Double
  /// Every parameter after the step: updated weights and biases, updated batch-norm running statistics, and
  /// the rest unchanged.
  public var parameters: [String: Tensor]
  /// The gradient each optimizer step read, by parameter name.
  public var gradients: [String: Tensor]
}

extension Interpreter {
  /// Runs one training step of a graph that autodiff and optimizer-step have rewritten: the graph in training
  /// mode (which evaluates the gradient nodes like any other), then, in node order, the update of every
  /// `.optimizerStep` node by `optimizer` from the gradient it reads.
  /// - Parameters:
  ///   - inputs: every data input and the loss's target, batch first.
  ///   - seed: the dropout seed of this step.
  ///   - optimizer: the optimizer with its per-parameter state, advanced by this step.
  public func trainStep(
    _ inputs: [String: AnyTensor], seed: UInt64, optimizer: inout ReferenceOptimizer
  ) throws -> TrainStepResult {
    guard let lossNode = graph.lossNode else { throw GradientError.noLoss(graph: graph.name) }
    let result = try run(inputs, mode: .training(seed: seed))
    guard let loss = result.loss else {
      throw GradientError.missingTarget(name: graph[lossNode.inputs[1]].name, loss: lossNode.name)
    }
    var updated = parameters.merging(result.updatedParameters) { _, new in new }
    var trained: [String: Tensor] = [:]
    var gradients: [String: Tensor] = [:]
    var kinds: [String: ParameterSpec.Kind] = [:]
    for node in graph.nodes {
      guard case .optimizerStep(let step) = node.op else { continue }
      guard let g = result.values[node.inputs[0]], let p = parameters[step.parameter] else {
        throw ReferenceError("optimizer step '\(node.name)': no gradient or parameter '\(step.parameter)'")
      }
      gradients[step.parameter] = g
      trained[step.parameter] = p
      kinds[step.parameter] = step.kind
    }
    try optimizer.step(&trained, gradients: gradients, kinds: kinds)
    updated.merge(trained) { _, new in new }
    return TrainStepResult(loss: loss, parameters: updated, gradients: gradients)
  }
}
