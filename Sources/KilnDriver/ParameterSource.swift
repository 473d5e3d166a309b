// Where a network's parameters come from: a safetensors file checked against the graph, or the spec's initializers.
import KilnData
import KilnIR

/// Resolves the parameters a graph needs.
public enum ParameterSource {
  /// Loads `path` and checks it against the graph (every missing, extra and mis-shaped tensor is reported
  /// at once), or, with no path, initializes every parameter from the spec with `seed`.
  public static func parameters(for graph: Graph, weightsPath: String?, seed: UInt64) throws -> Weights {
    let specs = graph.parameters()
    guard let weightsPath else { return Weights.initialize(specs, seed: seed) }
    let weights = try Weights.load(from: weightsPath)
    try weights.check(against: specs, source: weightsPath)
    return weights
  }

  /// The float tensors by name, as the interpreter takes them.
  public static func tensors(_ weights: Weights) -> [String: Tensor] {
    var result: [String: Tensor] = [:]
    for name in weights.names { if let t = weights.float(name) { result[name] = t } }
    return result
  }

  /// The seed a spec asks for in its training section, or 0.
  public static func defaultSeed(for graph: Graph) -> UInt64 { graph.training?.seed ?? 0 }
}
