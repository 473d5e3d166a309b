// Lowering: a shape-checked graph becomes a Program of kernel steps over input, output and arena buffers.
import KilnIR

/// Why a graph cannot be lowered.
public struct LoweringError: Error, CustomStringConvertible, Sendable {
  public var description: String
}

/// Turns an inference graph into kernel steps in node order.
///
/// - flatten, reshape, dropout (identity at inference) and identity activations are views: their value is
///   their input's buffer, and no kernel runs;
/// - a dense or conv layer whose fused activation is softmax or log_softmax becomes two steps (the layer, then
///   the activation), since those normalize across units rather than elementwise (such a layer cannot also
///   have an epilogue, which would have to run after the activation's kernel: fuse-epilogues never makes one);
/// - a dense or conv layer with an epilogue reads its operands (the node's inputs 1, 2, …) as the step's
///   inputs 1, 2, …, so the memory planner keeps them live until that step;
/// - each output is written straight into the caller's output array by the step that produces it; an output
///   that is a graph input, or a second output naming the same value, gets a copy step;
/// - the loss and training targets are left out (training is another lowering).
///
/// The arena is then laid out by `MemoryPlanner`: buffers whose lifetimes do not overlap share space, and
/// elementwise steps work in place over inputs that die there. Kernel scratch is unknown here (it depends on the
/// kernels); the code generator records it in the steps and plans again (`Program.planMemory(scratchFloats:)`).
public enum Lowering {
  /// A dense or conv layer with a softmax or log-softmax fused in, as the layer alone and that activation.
  static func splitActivation(_ op: Op) -> (Op, Activation)? {
    switch op {
    case .dense(var d) where !d.activation.isElementwise:
      let act = d.activation
      d.activation = .identity
      return (.dense(d), act)
    case .conv2d(var c) where !c.activation.isElementwise:
      let act = c.activation
      c.activation = .identity
      return (.conv2d(c), act)
    default:
      return nil
    }
  }

  public static func lower(_ g: Graph, maxBatch: Int) throws -> Program {
    guard maxBatch >= 1 else { throw LoweringError(description: "the batch must be at least 1, got \(maxBatch)") }
    for n in g.nodes where n.type == nil {
      throw LoweringError(description: "node '\(n.name)' has no type: run shape inference before lowering")
    }
    for n in g.nodes {
      let (activation, epilogue): (Activation, [EpilogueOp])
      switch n.op {
      case .dense(let d): (activation, epilogue) = (d.activation, d.epilogue)
      case .conv2d(let c): (activation, epilogue) = (c.activation, c.epilogue)
      default: continue
      }
      guard activation.isElementwise || epilogue.isEmpty else {
        throw LoweringError(
          description: "\(n.op.name) '\(n.name)' has an epilogue after \(activation), which runs as a kernel of its own")
      }
    }
    var buffers: [Buffer] = []
    var steps: [Step] = []
    var valueBuffer: [NodeID: BufferID] = [:]

    func newBuffer(_ name: String, _ storage: Buffer.Storage, _ type: TensorType) -> BufferID {
      let id = BufferID(buffers.count)
      buffers.append(Buffer(id: id, name: name, storage: storage, floatsPerSample: type.elementCount))
      return id
    }
    func isView(_ op: Op) -> Bool {
      switch op {
      case .flatten, .reshape, .dropout, .activation(.identity): return true
      default: return false
      }
    }
    func root(_ id: NodeID) -> NodeID { isView(g[id].op) ? root(g[id].inputs[0]) : id }

    // Data inputs are the caller's arrays.
    var inputs: [ProgramValue] = []
    for node in g.inputs(role: .data) {
      let type = node.type!
      let b = newBuffer(node.name, .input(inputs.count), type)
      valueBuffer[node.id] = b
      inputs.append(ProgramValue(name: node.name, buffer: b, type: type))
    }

    // Each output claims the node that really computes it, unless that is an input or already claimed.
    var claimed: [NodeID: Int] = [:]
    var copies: [(output: Int, source: NodeID)] = []
    for (j, o) in g.outputs.enumerated() {
      let r = root(o.node)
      if case .input = g[r].op { copies.append((j, o.node)) } else if claimed[r] != nil {
        copies.append((j, o.node))
      } else {
        claimed[r] = j
      }
    }
    var outputBuffers: [Int: BufferID] = [:]

    func addStep(_ node: Node, op: Op, inputs: [NodeID], inputBuffers: [BufferID], output: BufferID, type: TensorType) {
      steps.append(
        Step(
          index: steps.count + 1, node: node.id, kernelName: "k\(steps.count + 1)_\(op == .activation(.identity) ? "copy" : op.name)_\(node.name)", op: op,
          layer: node.name, inputs: inputBuffers, inputTypes: inputs.map { g[$0].type! }, output: output,
          outputType: type))
    }

    for node in g.nodes {
      switch node.op {
      case .input, .loss: continue
      default: break
      }
      let type = node.type!
      if isView(node.op) {
        valueBuffer[node.id] = valueBuffer[root(node.id)]
        continue
      }
      let ins = node.inputs.map { valueBuffer[root($0)]! }
      let out: BufferID
      if let j = claimed[node.id] {
        out = newBuffer(g.outputs[j].name, .output(j), type)
        outputBuffers[j] = out
      } else {
        out = newBuffer(node.name, .arena, type)
      }
      valueBuffer[node.id] = out
      if let (layer, act) = splitActivation(node.op) {
        let pre = newBuffer("\(node.name).pre", .arena, type)
        addStep(node, op: layer, inputs: node.inputs, inputBuffers: ins, output: pre, type: type)
        addStep(node, op: .activation(act), inputs: [node.id], inputBuffers: [pre], output: out, type: type)
      } else {
        addStep(node, op: node.op, inputs: node.inputs, inputBuffers: ins, output: out, type: type)
      }
    }
    for (j, source) in copies {
      let node = g[source]
      let out = newBuffer(g.outputs[j].name, .output(j), node.type!)
      outputBuffers[j] = out
      let copy = Node(id: node.id, name: g.outputs[j].name, op: .activation(.identity), inputs: [source], type: node.type)
      addStep(copy, op: .activation(.identity), inputs: [source], inputBuffers: [valueBuffer[root(source)]!], output: out, type: node.type!)
    }
    let outputs = g.outputs.enumerated().map { j, o in
      ProgramValue(name: o.name, buffer: outputBuffers[j]!, type: g[o.node].type!)
    }

    func layout(_ specs: [ParameterSpec]) -> (slots: [ParameterSlot], floats: Int) {
      var slots: [ParameterSlot] = []
      var floats = 0
      for spec in specs {
        slots.append(ParameterSlot(spec: spec, offset: floats))
        floats += alignedFloats(spec.elementCount)
      }
      return (slots, floats)
    }
    let kernel = layout(g.kernelParameters())
    let source = layout(g.parameters())
    var program = Program(
      name: g.name, maxBatch: maxBatch, buffers: buffers, steps: steps, parameters: kernel.slots,
      parameterFloats: kernel.floats, sourceParameters: source.slots, sourceFloats: source.floats,
      folds: g.parameterFolds(), inputs: inputs, outputs: outputs, arenaOffsets: [:], arenaFloats: 0)
    program.planMemory()
    return program
  }
}
