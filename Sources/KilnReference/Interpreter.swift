// The reference interpreter: runs a whole graph on named inputs with named parameters, node by node.
import KilnIR

/// What one run of a graph produced.
public struct InterpreterResult: Hashable, Sendable {
  /// The value of every graph output, by output name.
  public var outputs: [String: Tensor]
  /// The value of every float node that was computed (i64 targets are not included; a loss is a [] tensor).
  public var values: [NodeID: Tensor]
  /// The graph's loss, when it has a loss node and that node's target was given.
  public var loss: Double?
  /// Training mode only: the updated batch-norm running statistics, by parameter name
  /// (`<node>.running_mean`, `<node>.running_var`).
  public var updatedParameters: [String: Tensor]
}

/// Runs a graph with the reference ops. The interpreter is the specification of a graph's meaning: every
/// optimized graph and every generated C module is checked against what it computes.
///
/// It does not rely on inferred node types: at construction it walks the graph from the declared input
/// types with the ops' own shape rules, so it can check every parameter up front, and at run time it
/// computes from the tensors themselves.
public struct Interpreter: Sendable {
  /// How batch norm and dropout behave.
  public enum Mode: Hashable, Sendable {
    /// Batch norm uses its running statistics; dropout is the identity.
    case inference
    /// Batch norm uses batch statistics and updates its running statistics; dropout draws its mask from
    /// `CounterRandom` with this seed and `CounterRandom.stream(named:)` of the dropout node's name as the
    /// stream, so removing or renumbering other nodes leaves every mask unchanged.
    case training(seed: UInt64)
  }

  /// The graph being run.
  public let graph: Graph
  /// The parameters by name (`<node>.weight`, `.bias`, `.running_mean`, `.running_var`).
  public let parameters: [String: Tensor]
  /// Each node's per-sample dims and element type, from the static walk (a loss is an unbatched scalar).
  let types: [TensorType]

  /// Checks the graph's structure and that every parameter it needs is present with the shape
  /// `Node.kernelParameters(inputTypes:)` gives (PyTorch layouts; a layer with a folded batch norm takes its
  /// folded weight and bias). Parameters it does not need are ignored.
  /// - Throws: `InterpreterError`, naming the node or parameter at fault.
  public init(graph: Graph, parameters: [String: Tensor]) throws {
    let problems = Verifier.verify(graph).filter { $0.severity == .error }
    guard problems.isEmpty else { throw InterpreterError.invalidGraph(problems) }
    var types: [TensorType] = []
    for node in graph.nodes {
      let inputTypes = node.inputs.map { types[$0.index] }
      let type = try Self.staticType(of: node, inputTypes: inputTypes)
      for spec in node.kernelParameters(inputTypes: inputTypes) {
        guard let found = parameters[spec.name] else {
          throw InterpreterError.missingParameter(name: spec.name, expected: spec.dims)
        }
        guard found.shape == spec.dims else {
          throw InterpreterError.parameterShape(name: spec.name, expected: spec.dims, found: found.shape)
        }
      }
      types.append(type)
    }
    self.graph = graph
    self.parameters = parameters
    self.types = types
  }

  /// Runs the graph on a batch.
  /// - Parameters:
  ///   - inputs: tensors by input-node name, batch first: every data input (f32) is required; a target
  ///     (i64 labels or f32) is optional, and without it the nodes that read it (the loss) are skipped.
  ///   - mode: inference, or training with a dropout seed.
  /// - Throws: `InterpreterError` naming the input, parameter or node at fault.
  public func run(_ inputs: [String: AnyTensor], mode: Mode = .inference) throws -> InterpreterResult {
    let inputNodes = graph.nodes.filter { if case .input = $0.op { return true } else { return false } }
    for name in inputs.keys.sorted() where !inputNodes.contains(where: { $0.name == name }) {
      throw InterpreterError.unknownInput(name: name, known: inputNodes.map(\.name))
    }
    try checkInputs(inputs, inputNodes: inputNodes)

    var env: [AnyTensor?] = Array(repeating: nil, count: graph.nodes.count)
    // For a value that could not be computed, the target input it is waiting for.
    var waitingFor: [NodeID: String] = [:]
    var updated: [String: Tensor] = [:]
    var loss: Double?
    let lossID = graph.lossNode?.id
    for node in graph.nodes {
      if case .input = node.op {
        env[node.id.index] = inputs[node.name]
        if inputs[node.name] == nil { waitingFor[node.id] = node.name }
        continue
      }
      if let missing = node.inputs.first(where: { env[$0.index] == nil }) {
        waitingFor[node.id] = waitingFor[missing]
        continue
      }
      let operands = node.inputs.compactMap { env[$0.index] }
      let evaluation = try evaluate(node, operands: operands, mode: mode)
      env[node.id.index] = evaluation.value
      updated.merge(evaluation.updates) { _, new in new }
      if node.id == lossID { loss = evaluation.loss }
    }

    var result = InterpreterResult(outputs: [:], values: [:], loss: loss, updatedParameters: updated)
    for (i, value) in env.enumerated() {
      if case .f32(let t)? = value { result.values[NodeID(i)] = t }
    }
    for output in graph.outputs {
      switch env[output.node.index] {
      case .f32(let t)?:
        result.outputs[output.name] = t
      case .i64?:
        throw InterpreterError.nodeFailed(
          node: graph[output.node].name, op: "output", location: output.location,
          reason: "output '\(output.name)' is an i64 target; expected a float value")
      case nil:
        let target = waitingFor[output.node] ?? graph[output.node].name
        let dims = graph.node(named: target).map { types[$0.id.index].dims } ?? []
        throw InterpreterError.missingInput(name: target, expected: dims)
      }
    }
    return result
  }

  /// Checks every given input against its declaration (element type, per-sample dims, one batch size for
  /// all) and that every data input is present.
  func checkInputs(_ inputs: [String: AnyTensor], inputNodes: [Node]) throws {
    var batch: (size: Int, input: String)?
    // Data inputs first, so a missing one is reported before any mismatch with a target.
    let ordered = inputNodes.filter(isData) + inputNodes.filter { !isData($0) }
    for node in ordered {
      let declared = types[node.id.index]
      guard let given = inputs[node.name] else {
        if isData(node) { throw InterpreterError.missingInput(name: node.name, expected: declared.dims) }
        continue
      }
      guard given.dtype == declared.dtype else {
        throw InterpreterError.inputType(name: node.name, expected: declared.dtype, found: given.dtype)
      }
      guard given.shape.count == declared.rank + 1, Array(given.shape.dropFirst()) == declared.dims else {
        throw InterpreterError.inputShape(name: node.name, expected: declared.dims, found: given.shape)
      }
      guard given.shape[0] >= 1 else { throw InterpreterError.emptyBatch(name: node.name) }
      if let batch, batch.size != given.shape[0] {
        throw InterpreterError.batchMismatch(
          name: node.name, expected: batch.size, found: given.shape[0], firstInput: batch.input)
      }
      batch = batch ?? (given.shape[0], node.name)
    }
    guard batch != nil else { throw InterpreterError.emptyBatch(name: nil) }
  }

  private func isData(_ node: Node) -> Bool {
    if case .input(let i) = node.op { return i.role == .data }
    return false
  }
}
