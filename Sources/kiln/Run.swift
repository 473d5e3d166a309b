// `kiln run NET.kiln --interpret …`: run a network on a .npy input or on Fashion-MNIST.
import ArgumentParser
import Foundation
import KilnData
import KilnDriver
import KilnIR
import KilnReference

struct Run: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Run a network on an input tensor or a data set.",
    discussion: """
      Without --weights the parameters are initialized from the spec (with --seed).
      Give either --input X.npy (batch first) or --fashion-mnist test|train; with labels the accuracy is printed.
      """)

  @Argument(help: "The network spec (.kiln).")
  var spec: String

  @Option(help: "Weights as safetensors, with the spec's names and PyTorch's layouts.")
  var weights: String?

  @Option(help: "Input samples as a .npy file, batch first.")
  var input: String?

  @Option(help: "Class labels for --input as a .npy file of integers, to print the accuracy.")
  var labels: String?

  @Option(name: .customLong("fashion-mnist"), help: "Run on the Fashion-MNIST split 'test' or 'train' (Debian's dataset-fashion-mnist).")
  var fashionMNIST: FashionMNIST.Split?

  @Option(help: "Use only the first N samples.")
  var limit: Int?

  @Option(help: "Write the output as .npy (for a network with several outputs: NAME=PATH, repeatable).")
  var output: [String] = []

  @Option(help: "Random seed for initialization when no weights are given (default: the spec's, or 0).")
  var seed: UInt64?

  @Flag(help: "Run with the reference interpreter instead of generated C.")
  var interpret = false

  @OptionGroup var build: BuildFlags

  @OptionGroup var passes: PassFlags

  func validate() throws {
    guard (input == nil) != (fashionMNIST == nil) else {
      throw ValidationError("give exactly one of --input X.npy and --fashion-mnist test|train")
    }
    if let limit, limit < 1 { throw ValidationError("--limit must be at least 1") }
  }

  func run() throws {
    try failingClearly {
      let graph = try NetworkLoader.graph(path: spec)
      let seed = seed ?? ParameterSource.defaultSeed(for: graph)
      let evaluation: ChunkedEvaluation
      let engine: String
      if interpret {
        // Weights are resolved against the graph as written; the optimized graph needs a subset of them.
        let params = try ParameterSource.parameters(for: graph, weightsPath: weights, seed: seed)
        let optimized = try Compilation.optimize(graph, options: passes.options)
        evaluation = ChunkedEvaluation(interpreter: try Interpreter(graph: optimized, parameters: ParameterSource.tensors(params)))
        engine = "the reference interpreter"
      } else {
        // The module is compiled with initialized weights, so a weights file never forces a rebuild;
        // --weights is then loaded by the generated C's own safetensors reader.
        let specName = URL(fileURLWithPath: spec).lastPathComponent
        var options = build.options
        options.passes = passes.options
        let (model, _, result) = try Compilation.load(
          graph, specName: specName, options: options, safetensors: weights
        ) { try ParameterSource.parameters(for: graph, weightsPath: nil, seed: seed) }
        evaluation = ChunkedEvaluation(model: model, graph: graph)
        engine = "generated C (\(result.cacheHit ? "cached build" : "compiled in \(String(format: "%.2f", result.compileSeconds)) s"))"
      }

      let (data, classLabels) = try loadSamples()
      let started = Date()
      let outputs = try evaluation.run(data)
      let seconds = Date().timeIntervalSince(started)

      let n = data.shape.first ?? 0
      print("ran \(graph.name) on \(n) samples with \(engine) in \(String(format: "%.3f", seconds)) s")
      for o in graph.outputs {
        if let t = outputs[o.name] { print("output \(o.name): \(t.shape)") }
      }
      if let classLabels, let first = graph.outputs.first, let scores = outputs[first.name] {
        let score = try Classification(scores: scores, labels: classLabels)
        print("accuracy: \(String(format: "%.2f", score.accuracy * 100))% (\(score.correct)/\(score.total))")
      }
      try writeOutputs(outputs, graph: graph)
    }
  }

  /// The samples and, when known, their labels.
  func loadSamples() throws -> (Tensor, [Int64]?) {
    if let split = fashionMNIST {
      let set = try FashionMNIST.load(split, limit: limit)
      return (set.images, set.labels.data)
    }
    guard let input else { throw ValidationError("no input given") }
    guard case .f32(var x) = try Npy.read(from: input) else {
      throw EvaluationError("\(input): holds integers, expected float32 samples")
    }
    var y: [Int64]? = nil
    if let labels {
      switch try Npy.read(from: labels) {
      case .i64(let t): y = t.data
      case .f32: throw EvaluationError("\(labels): holds floats, expected integer class labels")
      }
    }
    if let limit, let n = x.shape.first, limit < n {
      let per = x.count / max(n, 1)
      x = Tensor(shape: [limit] + x.shape.dropFirst(), data: Array(x.data[0..<(limit * per)]))
      y = y.map { Array($0.prefix(limit)) }
    }
    return (x, y)
  }

  /// Writes outputs as .npy: `--output PATH` for a single-output network, `NAME=PATH` otherwise.
  func writeOutputs(_ outputs: [String: Tensor], graph: Graph) throws {
    for item in output {
      let parts = item.split(separator: "=", maxSplits: 1).map(String.init)
      let (name, path): (String, String)
      if parts.count == 2 {
        (name, path) = (parts[0], parts[1])
      } else if graph.outputs.count == 1 {
        (name, path) = (graph.outputs[0].name, item)
      } else {
        let names = graph.outputs.map(\.name).joined(separator: ", ")
        throw ValidationError("network '\(graph.name)' has several outputs (\(names)): write --output NAME=PATH")
      }
      guard let t = outputs[name] else {
        throw ValidationError("no output named '\(name)'; outputs: \(graph.outputs.map(\.name).joined(separator: ", "))")
      }
      try Npy.write(.f32(t), to: path)
      print("wrote \(name) \(t.shape) to \(path)")
    }
  }
}

extension FashionMNIST.Split: ExpressibleByArgument {}
