// Training lowering: a differentiated graph becomes one training step: forward, loss, backward, updates.
import KilnIR

extension Lowering {
  /// Turns a graph that autodiff and optimizer-step have rewritten into the steps of one training step, in
  /// node order (which puts the forward first, then the loss, the backward, and every optimizer step last):
  ///
  /// - forward nodes lower as for inference, except that batch norm and dropout are real steps (the emitter
  ///   picks their training kernels: batch statistics with running-statistics updates, a seeded mask), and no
  ///   value goes to a caller's output: graph outputs are arena values like any other;
  /// - the loss is a step writing the caller's loss scalar (`Buffer.Storage.loss`, one unbatched float);
  /// - a gradient node is a step whose inputs are its operands' buffers in operand order, writing a batched
  ///   value (∂L/∂x) or an unbatched one (∂L/∂W, sized like the parameter, not × the batch);
  /// - an optimizer step reads its parameter's gradient and writes nothing (`Buffer.Storage.empty`);
  /// - data inputs are the caller's inputs; the loss's target inputs are the caller's targets (`.target(i)`,
  ///   i64 class labels or floats shaped like the prediction);
  /// - flatten, reshape and identity activations, and the gradients of those, are views of their input (of dy).
  ///
  /// The arena is planned by the same `MemoryPlanner`: a forward activation lives until its last gradient use,
  /// and gradient buffers reuse the regions of values that died.
  public static func lowerTraining(_ g: Graph, maxBatch: Int) throws -> Program {
    guard maxBatch >= 1 else { throw LoweringError(description: "the batch must be at least 1, got \(maxBatch)") }
    for n in g.nodes where n.type == nil {
      throw LoweringError(description: "node '\(n.name)' has no type: run shape inference before lowering")
    }
    guard g.lossNode != nil else {
      throw LoweringError(
        description: "graph '\(g.name)' has no loss to train: it needs a train section and the training pipeline")
    }
    var lowering = TrainingLowering(graph: g)
    try lowering.run()
    let (slots, floats) = parameterLayout(g.kernelParameters())
    let (sourceSlots, sourceFloats) = parameterLayout(g.parameters())
    var program = Program(
      name: g.name, mode: .training, maxBatch: maxBatch, buffers: lowering.buffers, steps: lowering.steps,
      parameters: slots, parameterFloats: floats, sourceParameters: sourceSlots, sourceFloats: sourceFloats,
      folds: g.parameterFolds(), inputs: lowering.inputs, outputs: [], targets: lowering.targets,
      training: g.training, arenaOffsets: [:], arenaFloats: 0)
    program.planMemory()
    return program
  }

  /// Each tensor at the next 64-byte boundary, in order: the params layout.
  static func parameterLayout(_ specs: [ParameterSpec]) -> (slots: [ParameterSlot], floats: Int) {
    var slots: [ParameterSlot] = []
    var floats = 0
    for spec in specs {
      slots.append(ParameterSlot(spec: spec, offset: floats))
      floats += alignedFloats(spec.elementCount)
    }
    return (slots, floats)
  }

  /// A C identifier from a node name: `fc.grad.x0` → `fc_grad_x0`.
  static func identifier(_ name: String) -> String {
    String(name.map { $0.isASCII && ($0.isLetter || $0.isNumber) ? $0 : "_" })
  }
}

/// The state of one training lowering: the buffers and steps made so far, and which buffer holds each value.
private struct TrainingLowering {
  let graph: Graph
  var buffers: [Buffer] = []
  var steps: [Step] = []
  var inputs: [ProgramValue] = []
  var targets: [ProgramValue] = []
  var valueBuffer: [NodeID: BufferID] = [:]

  init(graph: Graph) { self.graph = graph }

  /// The node whose buffer a view node shares: a view's input, or a view gradient's dy.
  func viewSource(_ node: Node) -> NodeID? {
    switch node.op {
    case .flatten, .reshape, .activation(.identity):
      return node.inputs[0]
    case .gradient(let gradient):
      switch gradient.forward {
      case .flatten, .reshape, .activation(.identity):
        return gradient.index(of: .outputGradient).map { node.inputs[$0] }
      default:
        return nil
      }
    default:
      return nil
    }
  }

  func root(_ id: NodeID) -> NodeID { viewSource(graph[id]).map(root) ?? id }

  mutating func newBuffer(_ name: String, _ storage: Buffer.Storage, _ type: TensorType) -> BufferID {
    let id = BufferID(buffers.count)
    buffers.append(
      Buffer(
        id: id, name: name, storage: storage, floatsPerSample: type.elementCount, batched: type.batched,
        dtype: type.dtype))
    return id
  }

  mutating func addStep(
    _ node: Node, op: Op, inputs: [BufferID], inputTypes: [TensorType], output: BufferID, type: TensorType
  ) {
    let label: String
    switch op {
    case .gradient(let g): label = "grad_\(g.forward.name)"
    case .optimizerStep: label = "update"
    default: label = op.name
    }
    let index = steps.count + 1
    steps.append(
      Step(
        index: index, node: node.id, kernelName: "tk\(index)_\(label)_\(Lowering.identifier(node.name))", op: op,
        layer: node.name, inputs: inputs, inputTypes: inputTypes, output: output, outputType: type))
  }

  mutating func run() throws {
    for node in graph.nodes {
      let type = node.type!
      switch node.op {
      case .input(let input):
        switch input.role {
        case .data:
          let b = newBuffer(node.name, .input(inputs.count), type)
          inputs.append(ProgramValue(name: node.name, buffer: b, type: type))
          valueBuffer[node.id] = b
        case .target:
          let b = newBuffer(node.name, .target(targets.count), type)
          targets.append(ProgramValue(name: node.name, buffer: b, type: type))
          valueBuffer[node.id] = b
        }
        continue
      default:
        break
      }
      if viewSource(node) != nil {
        valueBuffer[node.id] = valueBuffer[root(node.id)]
        continue
      }
      let ins = try node.inputs.map { try buffer(of: $0, readBy: node) }
      let inputTypes = node.inputs.map { graph[$0].type! }
      let out: BufferID
      switch node.op {
      case .loss:
        out = newBuffer(node.name, .loss, TensorType(.f32, [1], batched: false))
      case .optimizerStep:
        out = newBuffer(node.name, .empty, type)
      default:
        out = newBuffer(node.name, .arena, type)
      }
      valueBuffer[node.id] = out
      if let (layer, act) = Lowering.splitActivation(node.op) {
        let pre = newBuffer("\(node.name).pre", .arena, type)
        addStep(node, op: layer, inputs: ins, inputTypes: inputTypes, output: pre, type: type)
        addStep(node, op: .activation(act), inputs: [pre], inputTypes: [type], output: out, type: type)
      } else {
        addStep(node, op: node.op, inputs: ins, inputTypes: inputTypes, output: out, type: type)
      }
    }
  }

  func buffer(of id: NodeID, readBy node: Node) throws -> BufferID {
    guard let b = valueBuffer[root(id)] else {
      throw LoweringError(description: "'\(node.name)' reads '\(graph[id].name)', which has no buffer")
    }
    return b
  }
}

extension Lowering {
  /// Lays params out once for both programs of a module built for training, which one params array serves:
  /// the training program's tensors in its order, then any that only the inference program reads (a head the
  /// loss does not reach), each 64-byte aligned.
  /// - Throws: `LoweringError` when the inference program folded a batch norm (training updates its statistics,
  ///   so a training module's inference must not fold them) or a tensor has different shapes in the two.
  public static func shareParameters(_ inference: inout Program, _ training: inout Program) throws {
    guard inference.folds.isEmpty && training.folds.isEmpty else {
      throw LoweringError(
        description: "a module built for training cannot fold batch norms into its layers: their statistics are trained"
      )
    }
    var specs = training.parameters.map(\.spec)
    for slot in inference.parameters {
      if let other = specs.first(where: { $0.name == slot.spec.name }) {
        guard other.dims == slot.spec.dims else {
          throw LoweringError(
            description: "parameter '\(slot.spec.name)' is \(slot.spec.dims) at inference but \(other.dims) in training"
          )
        }
      } else {
        specs.append(slot.spec)
      }
    }
    let (slots, floats) = parameterLayout(specs)
    for program in [\Program.parameters, \Program.sourceParameters] {
      inference[keyPath: program] = slots
      training[keyPath: program] = slots
    }
    for size in [\Program.parameterFloats, \Program.sourceFloats] {
      inference[keyPath: size] = floats
      training[keyPath: size] = floats
    }
  }
}
