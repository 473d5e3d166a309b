// Batch norm (training with batch 4, inference), LRN, dropout and the four losses: VJPs against central
// differences in Double, and the Float VJPs against the Double ones.
import KilnIR
import KilnReference
import Testing

func batchNormTrainingCase(_ x: [Int], epsilon: Double = 1e-5) -> VJPCase {
  let attrs = BatchNorm(epsilon: epsilon)
  let seed = UInt64(x.reduce(1, *))
  return VJPCase(
    name: "batchnorm training x\(x)",
    inputs: [
      randomDoubles(x, seed: seed, low: -2, high: 3), randomDoubles([x[1]], seed: seed + 1, low: 0.5, high: 2),
      randomDoubles([x[1]], seed: seed + 2),
    ],
    forward: { try DoubleReferenceOps.batchNormTraining($0[0], weight: $0[1], bias: $0[2], attrs) },
    vjp: { xs, dy in
      let r = try ReferenceGradients.batchNormTraining(dy: dy, x: xs[0], weight: xs[1], attrs)
      return [r.dx, r.dWeight, r.dBias]
    },
    floatVJP: { xs, dy in
      let r = try ReferenceGradients.batchNormTraining(dy: dy, x: xs[0], weight: xs[1], attrs)
      return [r.dx, r.dWeight, r.dBias]
    })
}

func batchNormInferenceCase(_ x: [Int]) -> VJPCase {
  let attrs = BatchNorm(epsilon: 1e-3)
  let c = x[1]
  return VJPCase(
    name: "batchnorm inference x\(x)",
    inputs: [
      randomDoubles(x, seed: 50), randomDoubles([c], seed: 51, low: 0.5, high: 2), randomDoubles([c], seed: 52),
      randomDoubles([c], seed: 53), randomDoubles([c], seed: 54, low: 0.5, high: 2),
    ],
    forward: { xs in
      try DoubleReferenceOps.batchNorm(
        xs[0], weight: xs[1], bias: xs[2], mean: xs[3].data, variance: xs[4].data, epsilon: 1e-3)
    },
    vjp: { xs, dy in
      let r = try ReferenceGradients.batchNormInference(
        dy: dy, x: xs[0], weight: xs[1], runningMean: xs[3], runningVar: xs[4], attrs)
      return [r.dx, r.dWeight, r.dBias, nil, nil]
    },
    floatVJP: { xs, dy in
      let r = try ReferenceGradients.batchNormInference(
        dy: dy, x: xs[0], weight: xs[1], runningMean: xs[3], runningVar: xs[4], attrs)
      return [r.dx, r.dWeight, r.dBias, nil, nil]
    })
}

func lrnCase(_ x: [Int], _ l: LRN) -> VJPCase {
  VJPCase(
    name: "lrn size \(l.size) α \(l.alpha) β \(l.beta) k \(l.k) x\(x)",
    inputs: [randomDoubles(x, seed: UInt64(x.reduce(1, *) + l.size), low: -2, high: 2)],
    forward: { try DoubleReferenceOps.lrn($0[0], l) },
    vjp: { [try ReferenceGradients.lrn(dy: $1, x: $0[0], l)] },
    floatVJP: { [try ReferenceGradients.lrn(dy: $1, x: $0[0], l)] })
}

func dropoutCase(_ x: [Int], rate: Double) -> VJPCase {
  VJPCase(
    name: "dropout \(rate) x\(x)", inputs: [randomDoubles(x, seed: 60)],
    forward: { try DoubleReferenceOps.dropout($0[0], rate: rate, seed: 5, stream: 77) },
    vjp: { [try ReferenceGradients.dropout(dy: $1, rate: rate, seed: 5, stream: 77)] },
    floatVJP: { [try ReferenceGradients.dropout(dy: $1, rate: rate, seed: 5, stream: 77)] })
}

func lossCase(_ kind: LossKind, _ x: [Int], target: AnyTensor) -> VJPCase {
  // mae has a kink where x = t.
  let signs: @Sendable ([DoubleTensor]) -> [Int] = { xs in
    guard case .f32(let t) = target else { return [] }
    return zip(xs[0].data, t.data).map { $0 > Double($1) ? 1 : 0 }
  }
  return VJPCase(
    name: "\(kind.rawValue) x\(x)", inputs: [randomDoubles(x, seed: UInt64(x.reduce(1, *)), low: -2, high: 2)],
    forward: { try DoubleTensor(shape: [], data: [DoubleReferenceOps.loss(kind, prediction: $0[0], target: target)]) },
    vjp: { [try ReferenceGradients.loss(kind, prediction: $0[0], target: target, dLoss: $1.data[0])] },
    floatVJP: { [try ReferenceGradients.loss(kind, prediction: $0[0], target: target, dLoss: Double($1.data[0]))] },
    pieces: kind == .meanAbsoluteError ? signs : nil)
}

@Suite struct BackwardNormalizationTests {
  static let cases = [
    batchNormTrainingCase([4, 3]), batchNormTrainingCase([4, 2, 3, 3]),
    batchNormTrainingCase([2, 3, 1, 2], epsilon: 0.1),
    batchNormInferenceCase([4, 3, 2, 2]), batchNormInferenceCase([3, 5]),
    lrnCase([2, 6, 2, 2], LRN(size: 3, alpha: 0.5, beta: 0.75, k: 2)),
    lrnCase([3, 5], LRN(size: 4, alpha: 1, beta: 0.5)),
    lrnCase([1, 7, 3, 1], LRN(size: 5, alpha: 0.3, beta: 0.75, k: 1)),
    dropoutCase([3, 4, 2, 2], rate: 0.3), dropoutCase([4, 5], rate: 0.5), dropoutCase([2, 3], rate: 0),
    lossCase(.softmaxCrossEntropy, [4, 5], target: .i64(IntTensor(shape: [4], data: [0, 4, 2, 2]))),
    lossCase(.softmaxCrossEntropy, [1, 3], target: .i64(IntTensor(shape: [1], data: [1]))),
    lossCase(.binaryCrossEntropyWithLogits, [3, 4], target: .f32(randomTensor([3, 4], seed: 70, low: 0, high: 1))),
    lossCase(.meanSquaredError, [3, 2, 2], target: .f32(randomTensor([3, 2, 2], seed: 71))),
    lossCase(.meanAbsoluteError, [4, 3], target: .f32(randomTensor([4, 3], seed: 72))),
  ]

  @Test(arguments: cases)
  func vjpMatchesCentralDifferences(_ c: VJPCase) throws { try expectFiniteDifferences(c) }

  @Test(arguments: cases)
  func floatVJPAgreesWithDouble(_ c: VJPCase) throws { try expectFloatAgrees(c) }

  /// The backward uses the forward's mask: dx is zero exactly where the Float forward dropped x, and
  /// dy/(1 − rate) where it kept it.
  @Test(arguments: [0.25, 0.5, 0.9])
  func dropoutGradientFollowsTheForwardMask(rate: Double) throws {
    let x = randomTensor([8, 16], seed: 80, low: 0.5, high: 1)  // never 0, so a zero output means dropped
    let y = try ReferenceOps.dropout(x, rate: rate, training: true, seed: 3, stream: CounterRandom.stream(named: "d"))
    let dx = try ReferenceGradients.dropout(
      dy: Tensor(repeating: 1, shape: x.shape), rate: rate, seed: 3, stream: CounterRandom.stream(named: "d"))
    #expect(y.data.contains(0) && y.data.contains { $0 != 0 })
    for (v, g) in zip(y.data, dx.data) { #expect(g == (v == 0 ? 0 : Float(1 / (1 - rate)))) }
  }

  /// Training batch norm's dx sums to zero over each channel (the mean is subtracted), and dβ is Σ dy.
  @Test func batchNormTrainingGradientIdentities() throws {
    let x = randomTensor([4, 3, 2, 2], seed: 90)
    let dy = randomTensor([4, 3, 2, 2], seed: 91)
    let r = try ReferenceGradients.batchNormTraining(
      dy: DoubleTensor(dy), x: DoubleTensor(x), weight: DoubleTensor(randomTensor([3], seed: 92, low: 0.5, high: 2)),
      BatchNorm())
    for c in 0..<3 {
      var sum = 0.0
      var dySum = 0.0
      for i in r.dx.data.indices where (i / 4) % 3 == c {
        sum += r.dx.data[i]
        dySum += Double(dy.data[i])
      }
      #expect(abs(sum) < 1e-12)
      #expect(abs(r.dBias.data[c] - dySum) < 1e-12)
    }
  }

  /// Labels outside 0..<classes and a batch of one value per channel are errors, not traps.
  @Test func badInputsThrow() {
    #expect(throws: ReferenceError.self) {
      try ReferenceGradients.loss(
        .softmaxCrossEntropy, prediction: Tensor(zeros: [2, 3]), target: .i64(IntTensor(shape: [2], data: [0, 3])))
    }
    #expect(throws: ReferenceError.self) {
      try ReferenceGradients.batchNormTraining(
        dy: Tensor(zeros: [1, 2]), x: Tensor(zeros: [1, 2]), weight: Tensor(zeros: [2]), BatchNorm())
    }
  }
}
