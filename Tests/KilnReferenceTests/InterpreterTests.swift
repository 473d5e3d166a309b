// The interpreter end to end: graphs built with KilnIR equal the reference ops composed by hand.
import KilnIR
import KilnReference
import Testing

/// conv(2 filters, 3×3) → relu → maxpool 2 → flatten → dense 3, plus an i64 `labels` target and a
/// cross-entropy loss: the small CNN most interpreter tests run.
struct SmallCNN {
  var graph = Graph(name: "small")
  var parameters: [String: Tensor] = [:]
  let image, conv, relu, pool, flat, fc, labels, loss: NodeID

  init() {
    image = graph.add("image", .input(Input(type: TensorType(.f32, [1, 6, 6]))))
    conv = graph.add("c1", .conv2d(Conv2D(filters: 2, kernel: Pair(3))), inputs: [image])
    relu = graph.add("r1", .activation(.relu), inputs: [conv])
    pool = graph.add("p1", .maxPool(Pool(kernel: Pair(2))), inputs: [relu])
    flat = graph.add("flat", .flatten, inputs: [pool])
    fc = graph.add("fc", .dense(Dense(units: 3)), inputs: [flat])
    labels = graph.add("labels", .input(Input(type: TensorType(.i64, []), role: .target)))
    loss = graph.add("loss", .loss(.softmaxCrossEntropy), inputs: [fc, labels])
    graph.outputs = [GraphOutput(name: "logits", node: fc)]
    parameters = [
      "c1.weight": randomTensor([2, 1, 3, 3], seed: 1), "c1.bias": randomTensor([2], seed: 2),
      "fc.weight": randomTensor([3, 8], seed: 3), "fc.bias": randomTensor([3], seed: 4),
    ]
  }

  func interpreter() throws -> Interpreter { try Interpreter(graph: graph, parameters: parameters) }
}

@Suite struct InterpreterTests {
  let net = SmallCNN()
  let images = randomTensor([3, 1, 6, 6], seed: 10)
  let labels = AnyTensor.i64(IntTensor(shape: [3], data: [0, 2, 1]))

  @Test func smallCNNEqualsTheOpsComposedByHand() throws {
    let result = try net.interpreter().run(["image": .f32(images), "labels": labels])
    let p = net.parameters
    let conv = try ReferenceOps.conv2d(
      images, weight: p["c1.weight"]!, bias: p["c1.bias"]!, Conv2D(filters: 2, kernel: Pair(3)))
    let relu = try ReferenceOps.activation(conv, .relu)
    let pool = try ReferenceOps.maxPool(relu, Pool(kernel: Pair(2)))
    let flat = try ReferenceOps.flatten(pool)
    let logits = try ReferenceOps.dense(flat, weight: p["fc.weight"]!, bias: p["fc.bias"]!)
    #expect(result.outputs == ["logits": logits])
    #expect(result.values[net.conv] == conv)
    #expect(result.values[net.pool] == pool)
    #expect(result.values[net.flat]?.shape == [3, 8])
    #expect(result.loss == (try ReferenceOps.loss(.softmaxCrossEntropy, prediction: logits, target: labels)))
    #expect(result.updatedParameters.isEmpty)
  }

  @Test func withoutItsTargetTheLossIsSkipped() throws {
    let result = try net.interpreter().run(["image": .f32(images)])
    #expect(result.loss == nil)
    #expect(result.values[net.loss] == nil)
    #expect(result.outputs["logits"]?.shape == [3, 3])
  }

  @Test func residualAddAndConcat() throws {
    var g = Graph(name: "branches")
    let x = g.add("x", .input(Input(type: TensorType(.f32, [2, 5, 5]))))
    let sameConv = Conv2D(filters: 2, kernel: Pair(3), padding: .same, activation: .relu)
    let a = g.add("a", .conv2d(sameConv), inputs: [x])
    let sum = g.add("sum", .add, inputs: [a, x])
    let b = g.add("b", .conv2d(Conv2D(filters: 3, kernel: Pair(1), bias: false)), inputs: [x])
    let cat = g.add("cat", .concat, inputs: [sum, b, x])
    let gap = g.add("gap", .globalAvgPool, inputs: [cat])
    g.outputs = [GraphOutput(name: "features", node: gap), GraphOutput(name: "sum", node: sum)]
    let p = [
      "a.weight": randomTensor([2, 2, 3, 3], seed: 5), "a.bias": randomTensor([2], seed: 6),
      "b.weight": randomTensor([3, 2, 1, 1], seed: 7),
    ]
    let input = randomTensor([2, 2, 5, 5], seed: 8)
    let result = try Interpreter(graph: g, parameters: p).run(["x": .f32(input)])

    let residual = try ReferenceOps.add(
      ReferenceOps.conv2d(input, weight: p["a.weight"]!, bias: p["a.bias"]!, sameConv), input)
    let pointwise = try ReferenceOps.conv2d(
      input, weight: p["b.weight"]!, bias: nil, Conv2D(filters: 3, kernel: Pair(1), bias: false))
    let features = try ReferenceOps.globalAvgPool(ReferenceOps.concat([residual, pointwise, input]))
    #expect(result.outputs == ["features": features, "sum": residual])
    #expect(features.shape == [2, 7])
  }

  @Test func trainingModeUsesBatchStatisticsAndSeededDropout() throws {
    var g = Graph(name: "mlp")
    let x = g.add("x", .input(Input(type: TensorType(.f32, [4]))))
    let d = g.add("d", .dense(Dense(units: 3)), inputs: [x])
    let bn = g.add("bn", .batchNorm(BatchNorm(momentum: 0.2)), inputs: [d])
    let drop = g.add("drop", .dropout(rate: 0.5), inputs: [bn])
    g.outputs = [GraphOutput(name: "y", node: drop)]
    let p = [
      "d.weight": randomTensor([3, 4], seed: 11), "d.bias": randomTensor([3], seed: 12),
      "bn.weight": randomTensor([3], seed: 13, low: 0.5, high: 2), "bn.bias": randomTensor([3], seed: 14),
      "bn.running_mean": randomTensor([3], seed: 15), "bn.running_var": randomTensor([3], seed: 16, low: 0.5, high: 2),
    ]
    let input = randomTensor([16, 4], seed: 17)
    let interpreter = try Interpreter(graph: g, parameters: p)

    let dense = try ReferenceOps.dense(input, weight: p["d.weight"]!, bias: p["d.bias"]!)
    let stats = try ReferenceOps.batchNormTraining(
      dense, weight: p["bn.weight"]!, bias: p["bn.bias"]!, runningMean: p["bn.running_mean"]!,
      runningVar: p["bn.running_var"]!, BatchNorm(momentum: 0.2))
    let dropped = try ReferenceOps.dropout(
      stats.output, rate: 0.5, training: true, seed: 99, stream: CounterRandom.stream(named: "drop"))
    let training = try interpreter.run(["x": .f32(input)], mode: .training(seed: 99))
    #expect(training.outputs["y"] == dropped)
    #expect(training.updatedParameters == ["bn.running_mean": stats.runningMean, "bn.running_var": stats.runningVar])
    #expect(try interpreter.run(["x": .f32(input)], mode: .training(seed: 99)) == training)
    #expect(try interpreter.run(["x": .f32(input)], mode: .training(seed: 100)).outputs != training.outputs)

    let inference = try interpreter.run(["x": .f32(input)])
    let normalized = try ReferenceOps.batchNormInference(
      dense, weight: p["bn.weight"]!, bias: p["bn.bias"]!, runningMean: p["bn.running_mean"]!,
      runningVar: p["bn.running_var"]!, BatchNorm(momentum: 0.2))
    #expect(inference.outputs["y"] == normalized)
    #expect(inference.values[bn] == normalized)
    #expect(inference.updatedParameters.isEmpty)
  }

  @Test func inferredTypesAreNotReliedOn() throws {
    // Wrong types left on the nodes (e.g. from an older shape inference) change nothing.
    var stale = net
    for i in stale.graph.nodes.indices where stale.graph.nodes[i].inputs.count > 0 {
      stale.graph.nodes[i].type = TensorType(.f32, [99])
    }
    let fresh = try net.interpreter().run(["image": .f32(images)])
    #expect(try stale.interpreter().run(["image": .f32(images)]) == fresh)
  }
}
