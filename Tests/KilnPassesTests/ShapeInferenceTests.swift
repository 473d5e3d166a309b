// Shape inference on graphs built by hand: output types, parameter counts, and located shape errors.
import KilnIR
import KilnPasses
import Testing

@Suite struct ShapeInferenceTests {
  let here = SourceLocation(file: "t.kiln", line: 3, column: 1)

  func infer(_ g: inout Graph) -> [Diagnostic] { ShapeInference().run(on: &g) }

  func image(_ dims: [Int]) -> Graph {
    var g = Graph(name: "t")
    g.add("x", .input(Input(type: TensorType(.f32, dims))))
    return g
  }

  @Test func courseConvolutionsAndCounts() throws {
    // 32×32×3, 10 filters 5×5 pad 2 → 32×32×10 with 760 parameters.
    var g = image([3, 32, 32])
    let c = g.add("conv", .conv2d(Conv2D(filters: 10, kernel: Pair(5), padding: .explicit(Pads(2)))), inputs: [NodeID(0)])
    g.outputs = [GraphOutput(name: "y", node: c)]
    #expect(infer(&g).isEmpty)
    #expect(g[c].type == TensorType(.f32, [10, 32, 32]))
    #expect(g.parameters().map(\.elementCount).reduce(0, +) == 760)

    // 32×32×3 → 10 filters 7×7 → 26×26×10 → 6 filters 5×5 stride 2 (floor) → 11×11×6.
    var h = image([3, 32, 32])
    let c1 = h.add("c1", .conv2d(Conv2D(filters: 10, kernel: Pair(7))), inputs: [NodeID(0)])
    let c2 = h.add("c2", .conv2d(Conv2D(filters: 6, kernel: Pair(5), stride: Pair(2), rounding: .floor)), inputs: [c1])
    #expect(infer(&h).isEmpty)
    #expect(h[c1].type?.dims == [10, 26, 26])
    #expect(h[c2].type?.dims == [6, 11, 11])
  }

  @Test func windowThatDoesNotFitIsReportedWithItsLocation() {
    var g = image([3, 7, 7])
    g.add("c", .conv2d(Conv2D(filters: 1, kernel: Pair(3), stride: Pair(3))), inputs: [NodeID(0)], location: here)
    let d = infer(&g)
    #expect(d.count == 1)
    #expect(d.first?.location == here)
    #expect(d.first?.message.contains("does not fit along height: (7 + 0 − 3) / 3 + 1 = 2.33") == true)
  }

  @Test func windowLargerThanInput() {
    var g = image([1, 4, 4])
    g.add("p", .maxPool(Pool(kernel: Pair(5))), inputs: [NodeID(0)], location: here)
    let d = infer(&g)
    #expect(d.first?.message.contains("larger than its padded input of 4") == true)
  }

  @Test func groupedAndDepthwise() {
    var g = image([32, 8, 8])
    let dw = g.add("dw", .conv2d(Conv2D(filters: 32, kernel: Pair(3), padding: .same, groups: 32)), inputs: [NodeID(0)])
    let bad = g.add("bad", .conv2d(Conv2D(filters: 10, kernel: Pair(1), groups: 4)), inputs: [dw], location: here)
    let d = infer(&g)
    #expect(g[dw].type?.dims == [32, 8, 8])
    #expect(g.nodes[dw.index].parameters(inputTypes: [TensorType(.f32, [32, 8, 8])]).first?.dims == [32, 1, 3, 3])
    #expect(g[bad].type == nil)
    #expect(d.map(\.message) == ["conv 'bad': filters = 10 is not divisible by groups = 4"])
  }

  @Test func addAndConcatMismatchesNameBothSides() {
    var g = image([3, 8, 8])
    let a = g.add("a", .conv2d(Conv2D(filters: 16, kernel: Pair(1))), inputs: [NodeID(0)])
    let b = g.add("b", .conv2d(Conv2D(filters: 32, kernel: Pair(1))), inputs: [NodeID(0)])
    let c = g.add("c", .conv2d(Conv2D(filters: 8, kernel: Pair(3))), inputs: [NodeID(0)])
    g.add("sum", .add, inputs: [a, b], location: here)
    let cat = g.add("cat", .concat, inputs: [a, b], location: here)
    g.add("cat2", .concat, inputs: [a, c], location: here)
    let d = infer(&g).map(\.message)
    #expect(d.count == 2)
    #expect(d[0] == "add 'sum': shape mismatch: 'a' is f32[16, 8, 8] but 'b' is f32[32, 8, 8]")
    #expect(d[1] == "concat 'cat2': shape mismatch: 'a' f32[16, 8, 8], 'c' f32[8, 6, 6]")
    #expect(g[cat].type?.dims == [48, 8, 8])
  }

  @Test func epilogueOperandsMustHaveTheLayersType() {
    var g = image([3, 8, 8])
    var conv = Conv2D(filters: 4, kernel: Pair(3), padding: .explicit(Pads(1)))
    conv.epilogue = [.add, .activation(.relu), .mul]
    let a = g.add("a", .conv2d(Conv2D(filters: 4, kernel: Pair(3), padding: .explicit(Pads(1)))), inputs: [NodeID(0)])
    let fused = g.add("c", .conv2d(conv), inputs: [NodeID(0), a, a])
    #expect(infer(&g).isEmpty)
    #expect(g[fused].type == TensorType(.f32, [4, 8, 8]))
    // The second operand is the 3-channel input: named, with both types.
    g[fused].inputs = [NodeID(0), a, NodeID(0)]
    g[fused].location = here
    let d = infer(&g)
    #expect(d.map(\.message) == ["conv 'c': epilogue operand 2 'x' is f32[3, 8, 8] but the layer's value is f32[4, 8, 8]"])
    #expect(d.first?.expected == "an operand of the layer's output type f32[4, 8, 8]")
    #expect(d.first?.location == here)
    var dense = Dense(units: 4)
    dense.epilogue = [.activation(.softmax)]
    var h = image([4])
    h.add("d", .dense(dense), inputs: [NodeID(0)])
    #expect(infer(&h).map(\.message) == ["dense 'd': epilogue holds softmax, which normalizes across units"])
  }

  @Test func denseNeedsFlatFeatures() {
    var g = image([16, 5, 5])
    g.add("fc", .dense(Dense(units: 10)), inputs: [NodeID(0)], location: here)
    let d = infer(&g)
    #expect(d.first?.description == "t.kiln:3:1: error: dense 'fc': found input f32[16, 5, 5]; expected one feature dimension, f32[features]; add 'flatten' before it")
  }

  @Test func reshapeInfersOneDimension() {
    var g = image([16, 5, 5])
    let r = g.add("r", .reshape(dims: [16, -1]), inputs: [NodeID(0)])
    let bad = g.add("bad", .reshape(dims: [7, -1]), inputs: [NodeID(0)], location: here)
    let d = infer(&g)
    #expect(g[r].type?.dims == [16, 25])
    #expect(g[bad].type == nil)
    #expect(d.count == 1)
  }

  @Test func lossTypesItsTarget() {
    var g = image([4])
    let fc = g.add("fc", .dense(Dense(units: 3)), inputs: [NodeID(0)])
    let labels = g.add("labels", .input(Input(type: TensorType(.i64, []), role: .target)))
    let loss = g.add("loss", .loss(.softmaxCrossEntropy), inputs: [fc, labels])
    var h = g
    #expect(infer(&g).isEmpty)
    #expect(g[loss].type == TensorType(.f32, [], batched: false))

    // A float target takes the prediction's shape.
    h[loss].op = .loss(.meanSquaredError)
    h[labels].op = .input(Input(type: TensorType(.f32, []), role: .target))
    #expect(infer(&h).isEmpty)
    #expect(h[labels].type == TensorType(.f32, [3]))
    h.outputs = [GraphOutput(name: "y", node: fc)]
    #expect(Verifier.verify(h, requireTypes: true).isEmpty)
  }

  @Test func errorsDoNotCascade() {
    var g = image([3, 8, 8])
    let bad = g.add("bad", .conv2d(Conv2D(filters: 4, kernel: Pair(9))), inputs: [NodeID(0)], location: here)
    let next = g.add("next", .activation(.relu), inputs: [bad])
    g.add("fc", .dense(Dense(units: 2)), inputs: [next])
    #expect(infer(&g).count == 1)
  }

  @Test func ceilModePoolingAndPaddingLimit() {
    var g = image([1, 11, 11])
    let p = g.add("p", .maxPool(Pool(kernel: Pair(2), rounding: .ceil)), inputs: [NodeID(0)])
    g.add("q", .maxPool(Pool(kernel: Pair(2), padding: .explicit(Pads(2)))), inputs: [NodeID(0)], location: here)
    let d = infer(&g)
    #expect(g[p].type?.dims == [1, 6, 6])
    #expect(d.first?.message.contains("more than half the kernel") == true)
  }
}
