// LeNet-5 on a batch of 64 28×28 images: shapes, parameter count, a finite loss, and a debug-build time bound.
import KilnIR
import KilnReference
import Testing

@Suite struct LeNetTests {
  /// conv 6·5×5 pad 2 relu → maxpool 2 → conv 16·5×5 relu → maxpool 2 → flatten → 120 relu → 84 relu → 10.
  static func lenet() -> (Graph, [String: Tensor]) {
    var g = Graph(name: "lenet5")
    let x = g.add("image", .input(Input(type: TensorType(.f32, [1, 28, 28]))))
    let c1 = g.add(
      "c1", .conv2d(Conv2D(filters: 6, kernel: Pair(5), padding: .explicit(Pads(2)), activation: .relu)), inputs: [x])
    let p1 = g.add("p1", .maxPool(Pool(kernel: Pair(2))), inputs: [c1])
    let c2 = g.add("c2", .conv2d(Conv2D(filters: 16, kernel: Pair(5), activation: .relu)), inputs: [p1])
    let p2 = g.add("p2", .maxPool(Pool(kernel: Pair(2))), inputs: [c2])
    let flat = g.add("flat", .flatten, inputs: [p2])
    let f1 = g.add("f1", .dense(Dense(units: 120, activation: .relu)), inputs: [flat])
    let f2 = g.add("f2", .dense(Dense(units: 84, activation: .relu)), inputs: [f1])
    let f3 = g.add("f3", .dense(Dense(units: 10)), inputs: [f2])
    let labels = g.add("labels", .input(Input(type: TensorType(.i64, []), role: .target)))
    g.add("loss", .loss(.softmaxCrossEntropy), inputs: [f3, labels])
    g.outputs = [GraphOutput(name: "logits", node: f3)]
    let shapes: [(String, [Int])] = [
      ("c1.weight", [6, 1, 5, 5]), ("c1.bias", [6]), ("c2.weight", [16, 6, 5, 5]), ("c2.bias", [16]),
      ("f1.weight", [120, 400]), ("f1.bias", [120]), ("f2.weight", [84, 120]), ("f2.bias", [84]),
      ("f3.weight", [10, 84]), ("f3.bias", [10]),
    ]
    var parameters: [String: Tensor] = [:]
    for (i, (name, shape)) in shapes.enumerated() {
      parameters[name] = randomTensor(shape, seed: UInt64(100 + i), low: -0.2, high: 0.2)
    }
    return (g, parameters)
  }

  @Test func runsABatchOf64QuicklyWithFiniteOutputs() throws {
    let (graph, parameters) = Self.lenet()
    #expect(parameters.values.reduce(0) { $0 + $1.count } == 61_706)  // LeNet-5's classic count
    let interpreter = try Interpreter(graph: graph, parameters: parameters)
    let images = randomTensor([64, 1, 28, 28], seed: 200, low: 0, high: 1)
    let labels = IntTensor(shape: [64], data: (0..<64).map { Int64($0 % 10) })
    let clock = ContinuousClock()
    var result: InterpreterResult?
    let elapsed = try clock.measure {
      result = try interpreter.run(["image": .f32(images), "labels": .i64(labels)])
    }
    let output = try #require(result)
    #expect(output.outputs["logits"]?.shape == [64, 10])
    let p2 = try #require(graph.node(named: "p2"))
    #expect(output.values[p2.id]?.shape == [64, 16, 5, 5])
    #expect(output.loss.map { $0.isFinite && $0 > 0 } == true)
    // NOTE: about 1 s in a debug build on 2 cores; the bound only catches an accidental blow-up.
    #expect(elapsed < .seconds(20), "LeNet-5 on 64 images took \(elapsed)")
  }
}
