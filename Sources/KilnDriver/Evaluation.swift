// Running a network over many samples in bounded chunks, and scoring classifications.
import KilnHarness
import KilnIR
import KilnReference

/// Runs a network (the interpreter or compiled C) over a whole data set, a chunk of samples at a time.
public struct ChunkedEvaluation {
  public var graph: Graph
  /// Samples per call.
  public var chunk: Int
  /// Runs one chunk: the graph's only data input in, every output by name out.
  public var runChunk: (Tensor) throws -> [String: Tensor]

  public init(graph: Graph, chunk: Int, runChunk: @escaping (Tensor) throws -> [String: Tensor]) {
    self.graph = graph
    self.chunk = max(1, chunk)
    self.runChunk = runChunk
  }

  /// With the reference interpreter.
  public init(interpreter: Interpreter, chunk: Int = 256) {
    let input = interpreter.graph.inputs(role: .data).first?.name ?? ""
    self.init(graph: interpreter.graph, chunk: chunk) { x in try interpreter.run([input: .f32(x)]).outputs }
  }

  /// With a compiled module, in chunks of its maximum batch.
  public init(model: CompiledModel, graph: Graph) {
    self.init(graph: graph, chunk: model.interface.maxBatch) { x in
      let n = x.shape[0]
      let outputs = try model.infer([x.data], n: n)
      var result: [String: Tensor] = [:]
      for (o, values) in zip(graph.outputs, outputs) {
        result[o.name] = Tensor(shape: [n] + (graph[o.node].type?.dims ?? []), data: values)
      }
      return result
    }
  }

  /// Feeds `data` (batch first) to the graph's only data input, reshaping each sample to the input's
  /// per-sample dims when the element counts agree (so 28×28 images feed a 784-input MLP).
  /// Returns every output, concatenated over the chunks.
  public func run(_ data: Tensor) throws -> [String: Tensor] {
    let dataInputs = graph.inputs(role: .data)
    guard dataInputs.count == 1, case .input(let spec) = dataInputs[0].op else {
      throw EvaluationError("network '\(graph.name)' has \(dataInputs.count) data inputs; this runs networks with one")
    }
    let n = data.shape.first ?? 0
    let perSample = n > 0 ? data.count / n : 0
    guard data.shape.count >= 1, perSample == spec.type.elementCount else {
      throw EvaluationError(
        "input has shape \(data.shape), expected [N] + \(spec.type.dims) (\(spec.type.elementCount) values per sample) for input '\(dataInputs[0].name)'"
      )
    }
    var outputs: [String: [Float]] = [:]
    var outputDims: [String: [Int]] = [:]
    var start = 0
    while start < n {
      let end = min(start + chunk, n)
      let slice = Array(data.data[(start * perSample)..<(end * perSample)])
      let x = Tensor(shape: [end - start] + spec.type.dims, data: slice)
      for (name, t) in try runChunk(x) {
        outputs[name, default: []] += t.data
        outputDims[name] = Array(t.shape.dropFirst())
      }
      start = end
    }
    var tensors: [String: Tensor] = [:]
    for (name, values) in outputs { tensors[name] = Tensor(shape: [n] + (outputDims[name] ?? []), data: values) }
    return tensors
  }
}

/// A problem running a network on a data set.
public struct EvaluationError: Error, CustomStringConvertible, Sendable {
  public var description: String
  public init(_ description: String) { self.description = description }
}

/// Classification scores of a [N, classes] output against class labels.
public struct Classification: Sendable, Equatable {
  public var correct: Int
  public var total: Int
  public var accuracy: Double { total == 0 ? 0 : Double(correct) / Double(total) }

  /// Compares the arg-max of each row of `scores` (logits or probabilities) with `labels`.
  public init(scores: Tensor, labels: [Int64]) throws {
    guard scores.shape.count == 2, scores.shape[0] == labels.count else {
      throw EvaluationError("scores of shape \(scores.shape) do not match \(labels.count) labels; expected [N, classes]")
    }
    let classes = scores.shape[1]
    var correct = 0
    for (i, label) in labels.enumerated() {
      let row = scores.data[(i * classes)..<((i + 1) * classes)]
      // First maximum wins, like torch.argmax.
      var best = row.startIndex
      for j in row.indices where row[j] > row[best] { best = j }
      if Int64(best - row.startIndex) == label { correct += 1 }
    }
    self.correct = correct
    self.total = labels.count
  }
}
