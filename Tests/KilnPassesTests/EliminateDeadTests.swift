// eliminate-dead on hand-built graphs: what is live, renumbering, and the training configuration.
import KilnIR
import KilnPasses
import Testing

@Suite struct EliminateDeadTests {
  /// x → a → b (output y), a → dead1 → dead2, plus a target and an mse loss of b.
  func graph() -> Graph {
    var g = Graph(name: "g")
    let x = g.add("x", .input(Input(type: TensorType(.f32, [4]))))
    let a = g.add("a", .dense(Dense(units: 4)), inputs: [x])
    let dead1 = g.add("dead1", .activation(.relu), inputs: [a])
    g.add("dead2", .activation(.tanh), inputs: [dead1])
    let b = g.add("b", .dense(Dense(units: 2)), inputs: [a])
    let t = g.add("t", .input(Input(type: TensorType(.f32, [2]), role: .target)))
    g.add("loss", .loss(.meanSquaredError), inputs: [b, t])
    g.outputs = [GraphOutput(name: "y", node: b)]
    g.training = TrainingConfig(loss: .meanSquaredError, prediction: b, targetName: "t")
    #expect(ShapeInference().run(on: &g).isEmpty)
    return g
  }

  @Test func removesDeadNodesAndRenumbersEveryReference() {
    var g = graph()
    #expect(EliminateDead(mode: .inference).run(on: &g).isEmpty)
    #expect(g.nodes.map(\.name) == ["x", "a", "b", "t"])
    #expect(g.nodes.map(\.id.index) == [0, 1, 2, 3])
    #expect(g.node(named: "b")?.inputs == [NodeID(1)])
    #expect(g.outputs.map(\.node) == [NodeID(2)])
    #expect(g.training?.prediction == NodeID(2))
    #expect(g.lossNode == nil)
    #expect(Verifier.verify(g, requireTypes: true).isEmpty)
  }

  @Test func trainingKeepsTheLossAndWhatItReads() {
    var g = graph()
    #expect(EliminateDead(mode: .training).run(on: &g).isEmpty)
    #expect(g.nodes.map(\.name) == ["x", "a", "b", "t", "loss"])
    #expect(g.lossNode?.inputs == [NodeID(2), NodeID(3)])
    #expect(Verifier.verify(g, requireTypes: true).isEmpty)
  }

  @Test func keepsParametersAndTypesOfSurvivors() {
    let before = graph()
    var g = before
    _ = EliminateDead().run(on: &g)
    #expect(g.parameters() == before.parameters())
    #expect(g.node(named: "b")?.type == before.node(named: "b")?.type)
  }

  @Test func aGraphWithNothingDeadIsUnchangedAndTheSecondRunChangesNothing() {
    var g = graph()
    _ = EliminateDead(mode: .training).run(on: &g)
    let once = g
    #expect(EliminateDead(mode: .training).run(on: &g).isEmpty)
    #expect(g == once)
  }

  @Test func aDeadLayerBetweenLiveOnesIsRemovedFromTheMiddle() {
    var g = Graph(name: "g")
    let x = g.add("x", .input(Input(type: TensorType(.f32, [3]))))
    g.add("unused", .activation(.sigmoid), inputs: [x])
    let r = g.add("r", .activation(.relu), inputs: [x])
    g.add("unused2", .activation(.sigmoid), inputs: [r])
    let s = g.add("s", .add, inputs: [r, x])
    g.outputs = [GraphOutput(name: "y", node: s), GraphOutput(name: "z", node: r)]
    _ = ShapeInference().run(on: &g)
    #expect(EliminateDead().run(on: &g).isEmpty)
    #expect(g.nodes.map(\.name) == ["x", "r", "s"])
    #expect(g.node(named: "s")?.inputs == [NodeID(1), NodeID(0)])
    #expect(g.outputs.map(\.node) == [NodeID(2), NodeID(1)])
  }
}
