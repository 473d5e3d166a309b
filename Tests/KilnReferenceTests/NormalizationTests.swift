// Batch norm (inference and training), LRN and dropout on hand-computed cases and statistical identities.
import Foundation
import KilnIR
import KilnReference
import Testing

@Suite struct BatchNormTests {
  let ones = Tensor(repeating: 1, shape: [3])
  let zeros = Tensor(zeros: [3])

  @Test func identityStatisticsDivideBySqrtOnePlusEpsilon() throws {
    let x = randomTensor([2, 3, 4, 5], seed: 1)
    let y = try ReferenceOps.batchNormInference(
      x, weight: ones, bias: zeros, runningMean: zeros, runningVar: ones, BatchNorm(epsilon: 1e-3))
    expectClose(
      y, Tensor(shape: x.shape, data: x.data.map { Float(Double($0) / (1.001).squareRoot()) }), tolerance: 1e-7)
  }

  @Test func inferenceUsesRunningStatisticsPerChannel() throws {
    // [N, C] input (BatchNorm1d): channel c uses mean[c], var[c], γ[c], β[c].
    let x = tensor([2, 2], [[1, 10], [3, 14]])
    let y = try ReferenceOps.batchNormInference(
      x, weight: tensor([2], [2, 1]), bias: tensor([2], [0, -1]), runningMean: tensor([2], [1, 12]),
      runningVar: tensor([2], [4, 16]), BatchNorm(epsilon: 0))
    #expect(y == tensor([2, 2], [[0, -1.5], [2, -0.5]]))
  }

  @Test func trainingNormalizesWithBatchStatsAndUpdatesRunningStats() throws {
    // Channel 0 holds {1, 3}: mean 2, biased var 1, unbiased 2. Channel 1 holds {10, 14}: mean 12, var 4, unbiased 8.
    let x = tensor([2, 2], [[1, 10], [3, 14]])
    let r = try ReferenceOps.batchNormTraining(
      x, weight: Tensor(repeating: 1, shape: [2]), bias: Tensor(zeros: [2]), runningMean: Tensor(zeros: [2]),
      runningVar: Tensor(repeating: 1, shape: [2]), BatchNorm(epsilon: 0, momentum: 0.1))
    #expect(r.output == tensor([2, 2], [[-1, -1], [1, 1]]))
    #expect(r.batchMean == tensor([2], [2, 12]))
    #expect(r.batchVariance == tensor([2], [1, 4]))
    expectClose(r.runningMean, tensor([2], [0.2, 1.2]))  // 0.9·0 + 0.1·mean
    expectClose(r.runningVar, tensor([2], [1.1, 1.7]))  // 0.9·1 + 0.1·unbiased var
  }

  @Test func trainingOutputHasZeroMeanUnitVariancePerChannel() throws {
    let x = randomTensor([4, 3, 5, 6], seed: 2, low: -3, high: 7)
    let r = try ReferenceOps.batchNormTraining(
      x, weight: ones, bias: zeros, runningMean: zeros, runningVar: ones, BatchNorm(epsilon: 1e-5))
    for c in 0..<3 {
      var values: [Double] = []
      for n in 0..<4 { for i in 0..<5 { for j in 0..<6 { values.append(Double(r.output[n, c, i, j])) } } }
      let mean = values.reduce(0, +) / Double(values.count)
      let variance = values.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(values.count)
      expectClose(mean, 0, tolerance: 1e-5)
      expectClose(variance, 1, tolerance: 1e-3)
    }
  }

  @Test func trainingNeedsTwoValuesPerChannelAndMatchingVectors() throws {
    #expect(throws: ReferenceError.self) {
      try ReferenceOps.batchNormTraining(
        Tensor(zeros: [1, 3]), weight: ones, bias: zeros, runningMean: zeros, runningVar: ones, BatchNorm())
    }
    let error = #expect(throws: ReferenceError.self) {
      try ReferenceOps.batchNormInference(
        Tensor(zeros: [2, 4]), weight: ones, bias: zeros, runningMean: zeros, runningVar: ones, BatchNorm())
    }
    #expect(error?.message == "batchnorm: weight has shape [3]; expected [4]")
  }
}

@Suite struct LRNTests {
  /// a = (1, 2, 3), size 2 (window c−1 … c), α 1, β 1, k 1: b_c = a_c / (1 + ½·Σ a²).
  @Test func handComputedSmallCase() throws {
    let x = tensor([1, 3, 1, 1], [1, 2, 3])
    let y = try ReferenceOps.lrn(x, LRN(size: 2, alpha: 1, beta: 1, k: 1))
    expectClose(y, tensor([1, 3, 1, 1], [1 / 1.5, 2 / 3.5, 3 / 7.5]), tolerance: 1e-7)
  }

  /// Size 3 (window c−1 … c+1) with AlexNet-like β 0.75, on [N, C, H, W] with two positions.
  @Test func windowIsCenteredAndClippedPerPosition() throws {
    let x = tensor([1, 4, 1, 2], [[1, -1], [2, 0], [3, 1], [4, 2]])
    let y = try ReferenceOps.lrn(x, LRN(size: 3, alpha: 0.3, beta: 0.75, k: 2))
    func b(_ a: Double, _ squares: Double) -> Float { Float(a / pow(2 + 0.1 * squares, 0.75)) }
    let expected = tensor(
      [1, 4, 1, 2],
      [
        [b(1, 1 + 4), b(-1, 1 + 0)], [b(2, 1 + 4 + 9), b(0, 1 + 0 + 1)], [b(3, 4 + 9 + 16), b(1, 0 + 1 + 4)],
        [b(4, 9 + 16), b(2, 1 + 4)],
      ])
    expectClose(y, expected, tolerance: 1e-7)
  }
}

@Suite struct DropoutTests {
  let x = randomTensor([8, 50, 25], seed: 3, low: 0.5, high: 1.5)

  @Test func inferenceIsTheIdentity() throws {
    #expect(try ReferenceOps.dropout(x, rate: 0.5, training: false, seed: 1, stream: 2) == x)
  }

  @Test(arguments: [0.1, 0.5, 0.8])
  func trainingDropsAboutRateAndScalesTheRest(_ rate: Double) throws {
    let y = try ReferenceOps.dropout(x, rate: rate, training: true, seed: 42, stream: 3)
    let dropped = y.data.filter { $0 == 0 }.count
    expectClose(Double(dropped) / Double(x.count), rate, tolerance: 0.02)  // 10 000 draws: σ ≤ 0.005
    for (a, b) in zip(x.data, y.data) where b != 0 { #expect(b == Float(Double(a) / (1 - rate))) }
  }

  @Test func reproducibleForASeedAndDifferentAcrossSeedsAndStreams() throws {
    let a = try ReferenceOps.dropout(x, rate: 0.5, training: true, seed: 7, stream: 1)
    #expect(a == (try ReferenceOps.dropout(x, rate: 0.5, training: true, seed: 7, stream: 1)))
    #expect(a != (try ReferenceOps.dropout(x, rate: 0.5, training: true, seed: 8, stream: 1)))
    #expect(a != (try ReferenceOps.dropout(x, rate: 0.5, training: true, seed: 7, stream: 2)))
  }

  @Test func edgeRates() throws {
    #expect(try ReferenceOps.dropout(x, rate: 0, training: true, seed: 1, stream: 0) == x)
    #expect(try ReferenceOps.dropout(x, rate: 1, training: true, seed: 1, stream: 0) == Tensor(zeros: x.shape))
    #expect(throws: ReferenceError.self) { try ReferenceOps.dropout(x, rate: 1.5, training: true, seed: 1, stream: 0) }
  }

  /// The hash is SplitMix64: its published first outputs from state 0 pin `mix` for the C port.
  @Test func counterHashIsSplitMix64() {
    #expect(CounterRandom.mix(0x9E37_79B9_7F4A_7C15) == 0xE220_A839_7B1D_CDAF)
    #expect(CounterRandom.mix(0x9E37_79B9_7F4A_7C15 &* 2) == 0x6E78_9E6A_A1B9_65F4)
    let key = CounterRandom.mix(5 ^ CounterRandom.mix(9))
    let bits = CounterRandom.mix(key &+ 4 &* 0x9E37_79B9_7F4A_7C15)
    #expect(CounterRandom.uniform(seed: 5, stream: 9, index: 3) == Double(bits >> 40) / 16_777_216)
  }
}
