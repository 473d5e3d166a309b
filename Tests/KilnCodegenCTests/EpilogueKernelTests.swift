// Fused conv and dense kernels (activation, residual adds, products) against the UNFUSED graph's interpreter.
import KilnCodegenC
import KilnIR
import KilnPasses
import KilnReference
import KilnTestSupport
import Testing

@Suite struct EpilogueKernelTests {
  /// One op of the chain written after the layer, unfused.
  enum Link: Sendable {
    case activation(Activation)
    /// add/mul of the current value and a new input; `operandFirst` writes that input as the op's first operand.
    case add(operandFirst: Bool)
    case mul(operandFirst: Bool)
  }

  struct Case: Sendable, CustomTestStringConvertible {
    var name: String
    /// A conv or dense op, as written (identity activation unless the case says otherwise).
    var layer: Op
    /// The layer's per-sample input.
    var input: [Int]
    var chain: [Link]
    /// Batches run one after another through the same compiled kernel.
    var batches: [Int]
    var testDescription: String { name }
  }

  static let cases: [Case] = [
    Case(
      name: "ResNet: 3×3 conv, padding 1, + shortcut, relu",
      layer: .conv2d(Conv2D(filters: 6, kernel: Pair(3), padding: .explicit(Pads(1)))), input: [4, 7, 9],
      chain: [.add(operandFirst: false), .activation(.relu)], batches: [3, 1]),
    Case(
      name: "1×1 conv (the input is the columns): relu, gate · v, tanh",
      layer: .conv2d(Conv2D(filters: 5, kernel: Pair(1))), input: [3, 6, 6],
      chain: [.activation(.relu), .mul(operandFirst: true), .activation(.tanh)], batches: [2, 1]),
    Case(
      name: "depthwise stride-2 conv without bias: r1 + v, v · r2, leaky relu",
      layer: .conv2d(
        Conv2D(filters: 4, kernel: Pair(3), stride: Pair(2), groups: 4, bias: false, rounding: .floor)),
      input: [4, 9, 9], chain: [.add(operandFirst: true), .mul(operandFirst: false), .activation(.leakyRelu(alpha: 0.1))],
      batches: [3, 1]),
    Case(
      name: "grouped 3×1 conv, same padding: elu, + r1, sigmoid",
      layer: .conv2d(Conv2D(filters: 4, kernel: Pair(3, 1), padding: .same, groups: 2)), input: [2, 5, 6],
      chain: [.activation(.elu(alpha: 1)), .add(operandFirst: false), .activation(.sigmoid)], batches: [1, 2]),
    Case(
      name: "dense 33→10: + residual, relu", layer: .dense(Dense(units: 10)), input: [33],
      chain: [.add(operandFirst: false), .activation(.relu)], batches: [5, 1, 4]),
    Case(
      name: "dense 7→37 without bias: relu6, r1 · v, + r2, tanh", layer: .dense(Dense(units: 37, bias: false)),
      input: [7], chain: [.activation(.relu6), .mul(operandFirst: true), .add(operandFirst: false), .activation(.tanh)],
      batches: [1, 9]),
    Case(
      name: "dense 100→64 without bias: only a product", layer: .dense(Dense(units: 64, bias: false)), input: [100],
      chain: [.mul(operandFirst: false)], batches: [64, 1, 3]),
  ]

  /// The unfused graph of a case: x, one input per add/mul operand, the layer, then the chain; output y.
  static func unfused(_ c: Case) throws -> Graph {
    var probe = Graph(name: "probe")
    let px = probe.add("x", .input(Input(type: TensorType(.f32, c.input))))
    probe.outputs = [GraphOutput(name: "y", node: probe.add("layer", c.layer, inputs: [px]))]
    _ = ShapeInference().run(on: &probe)
    let out = try #require(probe.nodes[1].type)

    var g = Graph(name: "epilogue")
    let x = g.add("x", .input(Input(type: TensorType(.f32, c.input))))
    var current = g.add("layer", c.layer, inputs: [x])
    for (k, link) in c.chain.enumerated() {
      switch link {
      case .activation(let a):
        current = g.add("a\(k)", .activation(a), inputs: [current])
      case .add(let first), .mul(let first):
        let operand = g.add("operand\(k)", .input(Input(type: out)))
        let op: Op = { if case .add = link { return .add } else { return .mul } }()
        current = g.add("op\(k)", op, inputs: first ? [operand, current] : [current, operand])
      }
    }
    g.outputs = [GraphOutput(name: "y", node: current)]
    let d = ShapeInference().run(on: &g)
    guard d.isEmpty else { throw DiagnosticError(d) }
    return g
  }

  /// The graph after fuse-epilogues and its layer, which must have absorbed the whole chain.
  static func fused(_ c: Case) throws -> (graph: Graph, layer: Node) {
    var g = try unfused(c)
    let d = FuseEpilogues().run(on: &g)
    guard d.isEmpty else { throw DiagnosticError(d) }
    let layers = g.nodes.filter { if case .input = $0.op { return false } else { return true } }
    #expect(layers.count == 1, "\(c.name): the chain is not wholly fused:\n\(g.dump())")
    return (g, try #require(layers.first))
  }

  static func kernel(_ i: Int, blas: Bool) throws -> KernelFunction {
    let c = cases[i]
    let node = try fused(c).layer
    let name = "k\(i)_fused_\(blas ? "blas" : "loops")"
    let options = KernelOptions(blas: blas, threadSlots: 4)
    switch node.op {
    case .conv2d(let conv):
      return Conv2DKernel.make(name: name, layer: "layer", conv: conv, input: TensorType(.f32, c.input), options: options)
    case .dense(let dense):
      return DenseKernel.make(name: name, layer: "layer", dense: dense, inFeatures: c.input[0], options: options)
    default:
      throw BenchError("case \(i) is not a conv or dense layer")
    }
  }

  static let blasBench = Result { try KernelBench.singleThreadedBLAS(cases.indices.map { try kernel($0, blas: true) }) }
  static let loopsBench = Result { try KernelBench(cases.indices.map { try kernel($0, blas: false) }) }

  /// Runs the fused kernel of case `i` at each of its batches against the unfused graph's interpreter.
  func check(_ i: Int, blas: Bool, on bench: KernelBench) throws {
    let c = Self.cases[i]
    let graph = try Self.unfused(c)
    let (fusedGraph, node) = try Self.fused(c)
    let kernel = try #require(bench.kernels["k\(i)_fused_\(blas ? "blas" : "loops")"])
    // r1, r2, … are the fused node's inputs 1, 2, …: the kernel must read them in that order.
    #expect(kernel.parameters.filter { $0.role == .input }.map(\.name) == ["x"] + (1..<node.inputs.count).map { "r\($0)" })
    let specs = graph.kernelParameters()
    for n in c.batches {
      var random = SeededRandom(seed: UInt64(100 * i + n))
      var parameters: [String: Tensor] = [:]
      for spec in specs { parameters[spec.name] = random.tensor(spec.dims, low: -1, high: 1) }
      var inputs: [String: AnyTensor] = [:]
      for input in graph.inputs() {
        // x in [-2, 2]; operands in [-1, 1], so products do not magnify the conv's rounding error.
        let bound: Float = input.name == "x" ? 2 : 1
        inputs[input.name] = .f32(random.tensor([n] + (input.type?.dims ?? []), low: -bound, high: bound))
      }
      var arguments: [String: [Float]] = [:]
      for (k, id) in node.inputs.enumerated() {
        let name = fusedGraph[id].name
        guard case .f32(let t)? = inputs[name] else { throw BenchError("no input '\(name)'") }
        arguments[k == 0 ? "x" : "r\(k)"] = t.data
      }
      for spec in specs { arguments[String(spec.name.dropFirst("layer.".count))] = parameters[spec.name]?.data }
      let y = try bench.run(kernel, n: n, arguments)["y"] ?? []
      let expected = try #require(try Interpreter(graph: graph, parameters: parameters).run(inputs).outputs["y"])
      let depth = specs.first.map { $0.elementCount / $0.dims[0] } ?? 1
      expectClose(
        Tensor(shape: expected.shape, data: y), expected, rtol: 1e-4,
        atol: accumulationTolerance(depth: depth + 1, xMax: 2, wMax: 1), "\(kernel.name) \(c.name) at n=\(n)")
    }
  }

  @Test(arguments: cases.indices)
  func blasKernelMatchesTheUnfusedInterpreter(_ i: Int) throws {
    try check(i, blas: true, on: try Self.blasBench.get())
  }

  @Test(arguments: cases.indices)
  func loopKernelMatchesTheUnfusedInterpreter(_ i: Int) throws {
    try check(i, blas: false, on: try Self.loopsBench.get())
  }

  @Test func operandsComeAfterTheBiasAndEveryPointerStaysRestrict() throws {
    let k = try Self.kernel(5, blas: false)
    #expect(k.parameters.map(\.name) == ["x", "weight", "r1", "r2", "y"])
    let signature = try #require(k.definition.split(separator: "\n").first { $0.hasPrefix("static void") })
    #expect(signature.contains("const float *restrict r1, const float *restrict r2, float *restrict y"))
    #expect(k.definition.contains("epilogue: relu6, * r1, + r2, tanh"))
  }
}
