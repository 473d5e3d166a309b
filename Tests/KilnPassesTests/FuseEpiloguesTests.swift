// fuse-epilogues on the example networks: fused residual adds counted, bits unchanged, operands live in the plan.
import KilnData
import KilnDriver
import KilnIR
import KilnPasses
import KilnReference
import KilnTestSupport
import Testing

@Suite struct FuseEpiloguesTests {
  /// The example's graph after the inference pipeline, with `disabled` passes left out.
  func optimized(_ example: String, disabling disabled: [String] = []) throws -> Graph {
    var g = try NetworkLoader.graph(path: PackagePaths.root.appendingPathComponent("examples/\(example)").path)
    var options = PassOptions()
    options.verify = true
    options.disabled = disabled
    let d = try Pipeline(options: options).run(&g)
    guard d.isEmpty else { throw DiagnosticError(d) }
    return g
  }

  /// The conv and dense epilogues of a graph, by layer name.
  func epilogues(_ g: Graph) -> [String: [EpilogueOp]] {
    var result: [String: [EpilogueOp]] = [:]
    for n in g.nodes {
      switch n.op {
      case .conv2d(let c) where !c.epilogue.isEmpty: result[n.name] = c.epilogue
      case .dense(let d) where !d.epilogue.isEmpty: result[n.name] = d.epilogue
      default: break
      }
    }
    return result
  }

  struct ResidualCase: Sendable, CustomTestStringConvertible {
    var example: String
    /// Residual blocks: each add (and the relu after it) must end up in a conv's epilogue.
    var blocks: Int
    /// Blocks whose add reads two convs (projection shortcuts): the main-path conv moves after the projection.
    var projections: Int
    var testDescription: String { example }
  }

  @Test(arguments: [
    ResidualCase(example: "resnet20.kiln", blocks: 9, projections: 2),
    ResidualCase(example: "resnet_block.kiln", blocks: 2, projections: 1),
  ])
  func everyResidualAddAndItsReluRunInAConv(_ c: ResidualCase) throws {
    let g = try optimized(c.example)
    let fused = epilogues(g)
    #expect(fused.count == c.blocks, "\(fused.keys.sorted())")
    #expect(fused.values.allSatisfy { $0 == [.add, .activation(.relu)] })
    #expect(!g.nodes.contains { $0.op == .add || $0.op.name == "relu" || $0.op.name == "batchnorm" })
    for name in fused.keys {
      let node = try #require(g.node(named: name))
      #expect(node.inputs.count == 2 && node.absorbed.count == 3, "\(name): absorbed \(node.absorbed)")
    }
    // A projection block's conv2 (written before the projection) takes the add and moves after the projection.
    let moved = g.nodes.filter { n in
      fused[n.name] != nil && g[n.inputs[1]].name.hasSuffix("_proj") && n.inputs[1] < n.id
    }
    #expect(moved.count == c.projections, "\(moved.map(\.name))")
    // Without fusion every layer keeps its kernel: the adds and batch norms are back.
    let unfused = try optimized(c.example, disabling: ["fold-batchnorm", "fuse-epilogues"])
    #expect(unfused.nodes.filter { $0.op == .add }.count == c.blocks)
    #expect(epilogues(unfused).isEmpty)
  }

  /// fuse-epilogues is exact: after the rest of the pipeline (batch norms folded), running it changes no bit of
  /// any output of any example or fixture.
  @Test(arguments: EquivalenceCase.all())
  func fusingChangesNoBitAfterFolding(_ c: EquivalenceCase) throws {
    var options = PassOptions()
    options.verify = true
    var fused = try c.load()
    var unfused = fused
    options.disabled = [FuseEpilogues.passName]
    #expect(try Pipeline(options: options).run(&unfused).isEmpty)
    options.disabled = []
    #expect(try Pipeline(options: options).run(&fused).isEmpty)
    guard fused != unfused else { return }
    let weights = ParameterSource.tensors(Weights.initialize(unfused.parameters(), seed: 11))
    let parameters = try unfused.kernelTensors(from: weights)
    var random = SeededRandom(seed: 5)
    var inputs: [String: AnyTensor] = [:]
    for node in unfused.inputs(role: .data) {
      inputs[node.name] = .f32(random.tensor([c.batch] + (node.type?.dims ?? []), low: -2, high: 2))
    }
    let want = try Interpreter(graph: unfused, parameters: parameters).run(inputs).outputs
    let have = try Interpreter(graph: fused, parameters: fused.kernelTensors(from: weights)).run(inputs).outputs
    #expect(Set(want.keys) == Set(have.keys))
    for (name, w) in want {
      let h = try #require(have[name])
      #expect(h.shape == w.shape && h.data.map(\.bitPattern) == w.data.map(\.bitPattern), "\(c.name): output \(name)")
    }
  }

  @Test func operandsAreStepInputsLiveUntilTheFusedStep() throws {
    let g = try optimized("resnet_block.kiln")
    let program = try Lowering.lower(g, maxBatch: 4)
    try PlanValidator.validate(program)
    let lifetimes = Liveness.lifetimes(of: program)
    var fusedSteps = 0
    for step in program.steps {
      guard case .conv2d(let c) = step.op, !c.epilogue.isEmpty else { continue }
      fusedSteps += 1
      #expect(step.inputs.count == 2 && step.inputTypes[1] == step.outputType, "\(step.kernelName)")
      // The shortcut is read here, so it lives at least until this step; the output never sits on it.
      let shortcut = step.inputs[1]
      #expect(lifetimes[shortcut].map { $0.last >= step.index } ?? false)
      #expect(!step.inPlace)
      #expect(program.arenaOffsets[shortcut] != program.arenaOffsets[step.output] || program[step.output].storage != .arena)
    }
    #expect(fusedSteps == 2)
  }

  @Test func aLayerWithASoftmaxTakesNoChain() throws {
    var g = Graph(name: "t")
    let x = g.add("x", .input(Input(type: TensorType(.f32, [4]))))
    let d = g.add("d", .dense(Dense(units: 4, activation: .softmax)), inputs: [x])
    let s = g.add("s", .add, inputs: [d, x])
    g.outputs = [GraphOutput(name: "y", node: s)]
    #expect(ShapeInference().run(on: &g).isEmpty)
    let before = g
    #expect(FuseEpilogues().run(on: &g).isEmpty)
    #expect(g == before)
    // A graph that has one anyway (not made by the pass) is refused by lowering, not miscompiled.
    var bad = before
    bad.nodes.removeLast()
    bad[d].op = .dense(withEpilogue(Dense(units: 4, activation: .softmax), [.activation(.relu)]))
    bad.outputs = [GraphOutput(name: "y", node: d)]
    #expect(throws: LoweringError.self) { try Lowering.lower(bad, maxBatch: 1) }
  }

  func withEpilogue(_ d: Dense, _ e: [EpilogueOp]) -> Dense {
    var d = d
    d.epilogue = e
    return d
  }
}
