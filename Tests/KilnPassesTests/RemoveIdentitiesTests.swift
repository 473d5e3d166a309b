// remove-identities on hand-built graphs: what counts as an identity, rewiring, and the training prediction.
import KilnIR
import KilnPasses
import Testing

@Suite struct RemoveIdentitiesTests {
  @Test func rewiresReadersOutputsAndThePredictionThroughChains() {
    var g = Graph(name: "g")
    let x = g.add("x", .input(Input(type: TensorType(.f32, [6]))))
    let fc = g.add("fc", .dense(Dense(units: 6)), inputs: [x])
    let d = g.add("d", .dropout(rate: 0.3), inputs: [fc])
    let i = g.add("i", .activation(.identity), inputs: [d])
    let out = g.add("out", .dense(Dense(units: 2)), inputs: [i])
    g.outputs = [GraphOutput(name: "logits", node: out), GraphOutput(name: "hidden", node: i)]
    g.training = TrainingConfig(loss: .meanSquaredError, prediction: i, targetName: "t")
    _ = ShapeInference().run(on: &g)
    #expect(RemoveIdentities().run(on: &g).isEmpty)
    #expect(g.nodes.map(\.name) == ["x", "fc", "out"])
    #expect(g[NodeID(2)].inputs == [NodeID(1)])
    #expect(g.outputs.map(\.node) == [NodeID(2), NodeID(1)])
    #expect(g.outputs.map(\.name) == ["logits", "hidden"])
    #expect(g.training?.prediction == NodeID(1))
    #expect(g.parameters().map(\.name) == ["fc.weight", "fc.bias", "out.weight", "out.bias"])
    #expect(Verifier.verify(g, requireTypes: true).isEmpty)
  }

  @Test func anOutputOfAnInputThroughAnIdentityNamesTheInput() {
    var g = Graph(name: "g")
    let x = g.add("x", .input(Input(type: TensorType(.f32, [2, 2]))))
    let f = g.add("f", .reshape(dims: [2, 2]), inputs: [x])
    g.outputs = [GraphOutput(name: "y", node: f)]
    _ = ShapeInference().run(on: &g)
    #expect(RemoveIdentities().run(on: &g).isEmpty)
    #expect(g.nodes.count == 1)
    #expect(g.outputs == [GraphOutput(name: "y", node: NodeID(0))])
  }

  @Test func keepsShapeChangesAndUntypedReshapes() {
    var g = Graph(name: "g")
    let x = g.add("x", .input(Input(type: TensorType(.f32, [2, 3]))))
    let f = g.add("f", .flatten, inputs: [x])
    let r = g.add("r", .reshape(dims: [6]), inputs: [f])
    g.outputs = [GraphOutput(name: "y", node: r)]
    // Without types nothing is known about flatten or reshape: both stay.
    var untyped = g
    #expect(RemoveIdentities().run(on: &untyped).isEmpty)
    #expect(untyped == g)
    // With types, the flatten changes the shape (stays) and the reshape to [6] of [6] goes.
    _ = ShapeInference().run(on: &g)
    #expect(RemoveIdentities().run(on: &g).isEmpty)
    #expect(g.nodes.map(\.name) == ["x", "f"])
  }

  @Test func trainingKeepsRandomDropoutButNotRateZero() {
    var g = Graph(name: "g")
    let x = g.add("x", .input(Input(type: TensorType(.f32, [4]))))
    let noisy = g.add("noisy", .dropout(rate: 0.5), inputs: [x])
    let quiet = g.add("quiet", .dropout(rate: 0), inputs: [noisy])
    g.outputs = [GraphOutput(name: "y", node: quiet)]
    _ = ShapeInference().run(on: &g)
    var training = g
    #expect(RemoveIdentities(mode: .training).run(on: &training).isEmpty)
    #expect(training.nodes.map(\.name) == ["x", "noisy"])
    #expect(training.outputs.map(\.node) == [NodeID(1)])
    #expect(RemoveIdentities(mode: .inference).run(on: &g).isEmpty)
    #expect(g.nodes.map(\.name) == ["x"])
  }

  @Test func aGraphWithoutIdentitiesIsUnchanged() {
    var g = Graph(name: "g")
    let x = g.add("x", .input(Input(type: TensorType(.f32, [4]))))
    let r = g.add("r", .activation(.relu), inputs: [x])
    g.outputs = [GraphOutput(name: "y", node: r)]
    _ = ShapeInference().run(on: &g)
    let before = g
    #expect(RemoveIdentities().run(on: &g).isEmpty)
    #expect(g == before)
  }
}
