// Activations, losses, dense and the shape-moving ops on hand-computed values.
import Foundation
import KilnIR
import KilnReference
import Testing

@Suite struct ActivationTests {
  struct Case: Sendable, CustomTestStringConvertible {
    var activation: Activation
    var expected: [Float]
    var testDescription: String { activation.description }
  }

  static let inputs: [Float] = [-1000, -1, 0, 1, 1000]

  @Test(arguments: [
    Case(activation: .identity, expected: inputs),
    Case(activation: .relu, expected: [0, 0, 0, 1, 1000]),
    Case(activation: .relu6, expected: [0, 0, 0, 1, 6]),
    Case(activation: .leakyRelu(alpha: 0.1), expected: [-100, -0.1, 0, 1, 1000]),
    Case(activation: .elu(alpha: 1), expected: [-1, -0.632_120_56, 0, 1, 1000]),
    Case(activation: .elu(alpha: 2), expected: [-2, -1.264_241_1, 0, 1, 1000]),
    Case(activation: .sigmoid, expected: [0, 0.268_941_42, 0.5, 0.731_058_6, 1]),
    Case(activation: .tanh, expected: [-1, -0.761_594_2, 0, 0.761_594_2, 1]),
  ])
  func elementwiseOnHandValues(_ c: Case) throws {
    let y = try ReferenceOps.activation(tensor([1, 5], Self.inputs), c.activation)
    #expect(y.data.allSatisfy { $0.isFinite })
    expectClose(y, tensor([1, 5], c.expected), tolerance: 1e-6)
  }

  @Test func softmaxOfAHandRowAndOfExtremeLogits() throws {
    let x = tensor([2, 3], [[1, 2, 3], [1000, 0, -1000]])
    let soft = try ReferenceOps.activation(x, .softmax)
    expectClose(soft, tensor([2, 3], [[0.090_030_57, 0.244_728_47, 0.665_240_96], [1, 0, 0]]), tolerance: 1e-7)
    let logSoft = try ReferenceOps.activation(x, .logSoftmax)
    expectClose(logSoft, tensor([2, 3], [[-2.407_606, -1.407_606, -0.407_606], [0, -1000, -2000]]), tolerance: 1e-5)
  }

  @Test func softmaxRowsSumToOneOverChannelsAndLogSoftmaxIsItsLog() throws {
    let x = randomTensor([2, 4, 3, 2], seed: 5, low: -20, high: 20)
    let soft = try ReferenceOps.activation(x, .softmax)
    let logSoft = try ReferenceOps.activation(x, .logSoftmax)
    for n in 0..<2 {
      for i in 0..<3 {
        for j in 0..<2 {
          let sum = (0..<4).reduce(0.0) { $0 + Double(soft[n, $1, i, j]) }
          expectClose(sum, 1, tolerance: 1e-6)
        }
      }
    }
    // Compared where softmax is not tiny, as log of a rounded tiny value loses relative precision.
    for (s, l) in zip(soft.data, logSoft.data) where s > 1e-6 { #expect(abs(log(s) - l) < 1e-4) }
    #expect(throws: ReferenceError.self) { try ReferenceOps.activation(Tensor(zeros: [4]), .softmax) }
  }
}

@Suite struct LossTests {
  let logits = tensor([2, 3], [[1, 2, 3], [1, 1, 1]])
  let labels = AnyTensor.i64(IntTensor(shape: [2], data: [2, 0]))

  @Test func softmaxCrossEntropyOnHandValues() throws {
    // Sample 0: log(e + e² + e³) − 3 = 0.407 605 96; sample 1: log 3 = 1.098 612 29.
    let loss = try ReferenceOps.loss(.softmaxCrossEntropy, prediction: logits, target: labels)
    expectClose(loss, (0.407_605_964 + 1.098_612_289) / 2, tolerance: 1e-8)
  }

  @Test func crossEntropyIsMinusMeanLogSoftmaxAtTheLabel() throws {
    let x = randomTensor([5, 7], seed: 6, low: -10, high: 10)
    let classes: [Int64] = [0, 6, 3, 3, 1]
    let loss = try ReferenceOps.loss(
      .softmaxCrossEntropy, prediction: x, target: .i64(IntTensor(shape: [5], data: classes)))
    let logSoft = try ReferenceOps.activation(x, .logSoftmax)
    let expected = -(0..<5).reduce(0.0) { $0 + Double(logSoft[$1, Int(classes[$1])]) } / 5
    expectClose(loss, expected, tolerance: 1e-5)
  }

  @Test func binaryCrossEntropyWithLogitsOnHandAndExtremeValues() throws {
    // max(x,0) − x·t + log(1 + e^−|x|): x = 0, t = 1 → log 2; x = 2, t = 0 → 2 + log(1 + e⁻²); x = −3, t = 1 → 3 + log(1 + e⁻³).
    let loss = try ReferenceOps.loss(
      .binaryCrossEntropyWithLogits, prediction: tensor([1, 3], [0, 2, -3]), target: .f32(tensor([1, 3], [1, 0, 1])))
    expectClose(loss, (0.693_147_181 + 2.126_928_011 + 3.048_587_352) / 3, tolerance: 1e-8)
    let extreme = try ReferenceOps.loss(
      .binaryCrossEntropyWithLogits, prediction: tensor([2, 1], [1000, -1000]), target: .f32(tensor([2, 1], [1, 0])))
    #expect(extreme == 0)
  }

  @Test func meanSquaredAndAbsoluteErrors() throws {
    let x = tensor([2, 2], [1, 2, 3, 4])
    let t = AnyTensor.f32(tensor([2, 2], [0, 2, 5, 4]))
    #expect(try ReferenceOps.loss(.meanSquaredError, prediction: x, target: t) == 1.25)
    #expect(try ReferenceOps.loss(.meanAbsoluteError, prediction: x, target: t) == 0.75)
  }

  @Test func badTargetsThrow() throws {
    let outOfRange = #expect(throws: ReferenceError.self) {
      try ReferenceOps.loss(
        .softmaxCrossEntropy, prediction: logits, target: .i64(IntTensor(shape: [2], data: [0, 3])))
    }
    #expect(outOfRange?.message.contains("label 3 at sample 1") == true)
    #expect(throws: ReferenceError.self) {
      try ReferenceOps.loss(
        .softmaxCrossEntropy, prediction: logits, target: .i64(IntTensor(shape: [3], data: [0, 1, 2])))
    }
    #expect(throws: ReferenceError.self) {
      try ReferenceOps.loss(.meanSquaredError, prediction: logits, target: labels)
    }
    #expect(throws: ReferenceError.self) {
      try ReferenceOps.loss(.meanAbsoluteError, prediction: logits, target: .f32(Tensor(zeros: [3, 2])))
    }
  }
}

@Suite struct DenseAndShapeOpTests {
  @Test func denseIsXTimesWeightTransposedPlusBias() throws {
    let x = tensor([2, 2], [[1, 2], [-3, 4]])
    let w = tensor([3, 2], [[1, 0], [0, 1], [1, 1]])
    let b = tensor([3], [0.5, 0, -1])
    #expect(try ReferenceOps.dense(x, weight: w, bias: b) == tensor([2, 3], [[1.5, 2, 2], [-2.5, 4, 0]]))
    #expect(
      try ReferenceOps.dense(x, weight: w, bias: nil, activation: .relu) == tensor([2, 3], [[1, 2, 3], [0, 4, 1]]))
    let error = #expect(throws: ReferenceError.self) {
      try ReferenceOps.dense(Tensor(zeros: [2, 1, 2]), weight: w, bias: b)
    }
    #expect(error?.message.contains("expected rank 2") == true)
    #expect(throws: ReferenceError.self) { try ReferenceOps.dense(x, weight: Tensor(zeros: [3, 3]), bias: b) }
  }

  @Test func flattenReshapeConcatAddMul() throws {
    let x = Tensor(shape: [2, 2, 1, 3], data: (0..<12).map(Float.init))
    #expect(try ReferenceOps.flatten(x) == Tensor(shape: [2, 6], data: x.data))
    #expect(try ReferenceOps.reshape(x, dims: [3, -1]) == Tensor(shape: [2, 3, 2], data: x.data))
    #expect(throws: ReferenceError.self) { try ReferenceOps.reshape(x, dims: [4, -1]) }
    #expect(throws: ReferenceError.self) { try ReferenceOps.reshape(x, dims: [-1, -1]) }
    #expect(throws: ReferenceError.self) { try ReferenceOps.reshape(x, dims: [5]) }
    // Concatenating [2, 1, 2] and [2, 2, 2] along dim 1 interleaves per sample.
    let a = tensor([2, 1, 2], [0, 1, 10, 11])
    let b = tensor([2, 2, 2], [2, 3, 4, 5, 12, 13, 14, 15])
    #expect(try ReferenceOps.concat([a, b]) == tensor([2, 3, 2], [0, 1, 2, 3, 4, 5, 10, 11, 12, 13, 14, 15]))
    #expect(throws: ReferenceError.self) { try ReferenceOps.concat([a, tensor([1, 2, 2], [0, 0, 0, 0])]) }
    #expect(try ReferenceOps.add(a, a) == tensor([2, 1, 2], [0, 2, 20, 22]))
    #expect(try ReferenceOps.mul(a, a) == tensor([2, 1, 2], [0, 1, 100, 121]))
    #expect(throws: ReferenceError.self) { try ReferenceOps.add(a, b) }
  }
}
