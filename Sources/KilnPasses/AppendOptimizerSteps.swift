// optimizer-step: appends one optimizer update per parameter gradient, after the whole backward.
import KilnIR

/// Appends `<parameter>.step`, an `.optimizerStep` reading `<parameter>.grad`, for every parameter gradient
/// autodiff produced, with the train section's optimizer and regularization.
///
/// NOTE: every step comes after every gradient node: the backward still reads the weights (dx = dy·W), so
/// no weight may change before the last gradient that reads it. All steps at the end is the simple order
/// that guarantees it; a parameter's gradient buffer then lives until its step.
public struct AppendOptimizerSteps: GraphPass {
  /// The pass's registered name.
  public static let passName = "optimizer-step"
  public let name = AppendOptimizerSteps.passName
  public var mode: PipelineMode

  /// A pass for `mode`; it does nothing in inference mode.
  public init(mode: PipelineMode = .training) { self.mode = mode }

  public func run(on graph: inout Graph) -> [Diagnostic] {
    guard mode == .training else { return [] }
    guard let training = graph.training else {
      return [Diagnostic(at: nil, "optimizer-step: graph '\(graph.name)' has no train section", expected: "a train section")]
    }
    let gradients = graph.nodes.compactMap { node -> (Node, Gradient)? in
      guard case .gradient(let g) = node.op, g.parameterName != nil else { return nil }
      return (node, g)
    }
    for (node, g) in gradients {
      guard case .parameter(let kind) = g.target, let name = g.parameterName, let type = node.type else { continue }
      let step = OptimizerStep(
        parameter: name, kind: kind, dims: type.dims, optimizer: training.optimizer,
        regularization: training.regularization)
      let id = graph.add("\(name).step", .optimizerStep(step), inputs: [node.id], location: training.location)
      graph[id].type = TensorType.empty
    }
    return []
  }
}
