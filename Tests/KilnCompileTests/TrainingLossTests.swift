// Training modules with the float-target losses (mse, mae, bce_with_logits): three C steps against the interpreter.
import Foundation
import KilnDriver
import KilnHarness
import KilnIR
import KilnReference
import KilnTestSupport
import Testing

@Suite(.serialized) struct TrainingLossTests {
  struct Case: Sendable, CustomTestStringConvertible {
    var loss: String
    var optimizer: String
    var testDescription: String { "\(loss) with \(optimizer)" }
  }

  static let cases = [
    Case(loss: "mse", optimizer: "rmsprop(lr: 0.01, momentum: 0.5)"),
    Case(loss: "mae", optimizer: "adamw(lr: 0.01)"),
    Case(loss: "bce_with_logits", optimizer: "nadam(lr: 0.01)"),
  ]

  /// A small regression network; its targets are floats shaped like the prediction.
  static func spec(_ c: Case) -> String {
    """
    network reg_\(c.loss)
    input x: f32[6]
    dense h (units: 8, activation: tanh)
    dense o (units: 3)
    output y
    train {
      loss: \(c.loss)(y, target)
      optimizer: \(c.optimizer)
      weight_decay: 0.001
      seed: 5
    }
    """
  }

  @Test(arguments: cases) func threeStepsMatchTheInterpreter(_ c: Case) throws {
    let g = try graph(source: Self.spec(c))
    let batch = 5
    let f = try trainingFixture(g, batch: batch)
    var reference = try ReferenceTrainer(g, weights: f.weights)
    for step in 0..<3 {
      var random = SeededRandom(seed: UInt64(70 + step))
      let x = random.tensor([batch, 6])
      // bce_with_logits reads probabilities in [0, 1]; the others any float.
      let target = c.loss == "bce_with_logits" ? random.tensor([batch, 3], low: 0, high: 1) : random.tensor([batch, 3])
      let loss = try f.model.trainStep(inputs: [x.data], targets: .values(target.data), n: batch)
      let expected = try reference.step(g, inputs: [x], target: .f32(target))
      #expect(abs(Double(loss) - expected) <= 1e-4 * max(1, abs(expected)), "\(c) step \(step + 1): \(loss) vs \(expected)")
    }
    let trained = try f.model.parameters()
    #expect(Set(trained.keys) == Set(reference.parameters.keys))
    for (name, want) in reference.parameters.sorted(by: { $0.key < $1.key }) {
      guard let got = trained[name] else { continue }
      expectAgrees(Tensor(shape: want.shape, data: got), want, "\(c) \(name) after 3 steps")
    }
    let initial = ParameterSource.tensors(f.weights)
    #expect(trained.contains { $0.value != initial[$0.key]?.data }, "the steps changed the weights")
  }
}
