// `kiln init NET.kiln -o W.safetensors`: write the spec's initial weights.
import ArgumentParser
import KilnData
import KilnDriver

struct Init: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Initialize a network's parameters from its spec and save them as safetensors.")

  @Argument(help: "The network spec (.kiln).")
  var spec: String

  @Option(name: .shortAndLong, help: "The safetensors file to write.")
  var output: String

  @Option(help: "Random seed (default: the training section's seed, or 0).")
  var seed: UInt64?

  func run() throws {
    try failingClearly {
      let graph = try NetworkLoader.graph(path: spec)
      var weights = try ParameterSource.parameters(
        for: graph, weightsPath: nil, seed: seed ?? ParameterSource.defaultSeed(for: graph))
      weights.metadata["network"] = graph.name
      try weights.save(to: output)
      let count = graph.parameters().map(\.elementCount).reduce(0, +)
      print("wrote \(weights.count) tensors (\(count) values) to \(output)")
    }
  }
}
