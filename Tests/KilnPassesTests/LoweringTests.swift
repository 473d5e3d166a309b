// Lowering: views cost no kernel, softmax splits off its layer, outputs are written in place or copied.
import KilnIR
import KilnPasses
import Testing

@Suite struct LoweringTests {
  func typed(_ g: Graph) -> Graph {
    var g = g
    #expect(ShapeInference().run(on: &g).isEmpty)
    return g
  }

  @Test func viewsAreFreeAndSoftmaxIsSplit() throws {
    var g = Graph(name: "t")
    let x = g.add("x", .input(Input(type: TensorType(.f32, [2, 4, 4]))))
    let c = g.add("c", .conv2d(Conv2D(filters: 3, kernel: Pair(3))), inputs: [x])
    let f = g.add("f", .flatten, inputs: [c])
    let d = g.add("d", .dropout(rate: 0.5), inputs: [f])
    let fc = g.add("fc", .dense(Dense(units: 5, activation: .softmax)), inputs: [d])
    g.outputs = [GraphOutput(name: "probs", node: fc)]
    let p = try Lowering.lower(typed(g), maxBatch: 8)
    #expect(p.steps.map(\.kernelName) == ["k1_conv_c", "k2_dense_fc", "k3_softmax_fc"])
    // The dense reads the conv's buffer directly (flatten and dropout are views of it).
    #expect(p.steps[1].inputs == [p.steps[0].output])
    #expect(p.steps[1].op == .dense(Dense(units: 5)))
    #expect(p[p.steps[2].output].storage == .output(0))
    #expect(p.outputs.map(\.name) == ["probs"])
    // Arena buffers: the conv output and the pre-softmax values, each sized for the batch and 64-byte aligned.
    #expect(p.arenaFloats == alignedFloats(8 * 3 * 2 * 2) + alignedFloats(8 * 5))
    #expect(p.parameters.map(\.offset) == [0, 64, 80, 144])  // 54, 3, 60 and 5 floats, each padded to 16
  }

  @Test func sharedOrInputOutputsAreCopied() throws {
    var g = Graph(name: "t")
    let x = g.add("x", .input(Input(type: TensorType(.f32, [3]))))
    let r = g.add("r", .activation(.relu), inputs: [x])
    g.outputs = [
      GraphOutput(name: "a", node: r), GraphOutput(name: "b", node: r), GraphOutput(name: "c", node: x),
    ]
    let p = try Lowering.lower(typed(g), maxBatch: 1)
    #expect(p.steps.map(\.kernelName) == ["k1_relu_r", "k2_copy_b", "k3_copy_c"])
    #expect(p.steps.map { p[$0.output].storage } == [.output(0), .output(1), .output(2)])
    #expect(p.arenaFloats == 0)
  }

  @Test func untypedGraphsAndBadBatchesAreRefused() {
    var g = Graph(name: "t")
    g.add("x", .input(Input(type: TensorType(.f32, [3]))))
    g.outputs = [GraphOutput(name: "x", node: NodeID(0))]
    #expect(throws: LoweringError.self) { try Lowering.lower(g, maxBatch: 1) }
    #expect(throws: LoweringError.self) { try Lowering.lower(typed(g), maxBatch: 0) }
  }
}
