// Training-mode dropout and its gradient: the masks of the reference bit for bit, for any seed, layer name and
// thread count.
import KilnCodegenC
import KilnHarness
import KilnIR
import KilnReference
import KilnTestSupport
import Testing

@Suite struct DropoutTests {
  struct Case: Sendable, CustomTestStringConvertible {
    var layer: String
    var rate: Double
    var perSample: Int
    var testDescription: String { "dropout '\(layer)' rate \(rate) ×\(perSample)" }
  }

  static let cases: [Case] = [
    Case(layer: "drop", rate: 0.5, perSample: 10),
    Case(layer: "fc1.dropout", rate: 0.3, perSample: 37),
    Case(layer: "", rate: 0.2, perSample: 4),
    Case(layer: "d", rate: 0, perSample: 6),
    Case(layer: "d", rate: 1, perSample: 6),
    // 1/3 is not a multiple of 2⁻²⁴: the kept test u ≥ rate rounds the threshold up.
    Case(layer: "ü/é */", rate: 1.0 / 3.0, perSample: 25),
    // Above the parallel threshold at batch 8.
    Case(layer: "big", rate: 0.25, perSample: 8192),
  ]

  static func kernels() throws -> [KernelFunction] {
    try cases.enumerated().flatMap { i, c -> [KernelFunction] in
      [
        try DropoutTrainingKernel.make(name: "k\(i)_dropout", layer: c.layer, rate: c.rate, perSample: c.perSample),
        try gradientKernel(
          "k\(i)_dropout_grad", .dropout(rate: c.rate), layer: c.layer, inputs: [[c.perSample]], output: [c.perSample],
          operands: [.outputGradient]),
      ]
    }
  }

  static let bench = Result { try KernelBench(kernels()) }

  static let seeds: [UInt64] = [0, 42, CounterRandom.stepSeed(base: 7, step: 3), .max]

  static func step(_ seed: UInt64) -> KernelBench.StepInfo { KernelBench.StepInfo(lr: 0.1, step: 3, seed: seed) }

  @Test(arguments: cases.indices)
  func forwardIsTheReferenceBitForBit(_ i: Int) throws {
    let c = Self.cases[i]
    let bench = try Self.bench.get()
    let kernel = try bench.kernel(named: "k\(i)_dropout")
    for n in trainingBatches {
      for seed in Self.seeds {
        let x = randomTensor(n, [c.perSample], seed: seed &+ UInt64(i))
        let y = try bench.output(kernel, n: n, ["x": x.data], stepInfo: Self.step(seed))
        let expected = try ReferenceOps.dropout(
          x, rate: c.rate, training: true, seed: seed, stream: CounterRandom.stream(named: c.layer))
        #expect(bitPatterns(y) == bitPatterns(expected.data), "\(c.testDescription) n=\(n) seed \(seed)")
      }
    }
  }

  @Test(arguments: cases.indices)
  func gradientIsTheReferenceBitForBit(_ i: Int) throws {
    let c = Self.cases[i]
    let bench = try Self.bench.get()
    let kernel = try bench.kernel(named: "k\(i)_dropout_grad")
    for n in trainingBatches {
      for seed in Self.seeds {
        let dy = randomTensor(n, [c.perSample], seed: seed &+ 99)
        let dx = try bench.output(kernel, n: n, ["dy": dy.data], stepInfo: Self.step(seed))
        let expected = try ReferenceGradients.dropout(
          dy: dy, rate: c.rate, seed: seed, stream: CounterRandom.stream(named: c.layer))
        #expect(bitPatterns(dx) == bitPatterns(expected.data), "\(c.testDescription) n=\(n) seed \(seed)")
      }
    }
  }

  /// Dropped gradients are dy·0, as the reference's: −0 for a negative dy and NaN for a NaN, where the
  /// forward writes 0.
  @Test func droppedGradientsKeepTheSignOfZero() throws {
    let bench = try Self.bench.get()
    let dy = [Float](repeating: -1, count: 6) + [Float](repeating: .nan, count: 6)
    let dx = try bench.output(bench.kernel(named: "k4_dropout_grad"), n: 2, ["dy": dy], stepInfo: Self.step(1))
    #expect(bitPatterns(Array(dx.prefix(6))) == bitPatterns([Float](repeating: -0.0, count: 6)))
    #expect(dx.suffix(6).filter(\.isNaN).count == 6)
  }

  /// The fraction kept is near 1 − rate, and the mask changes with the seed and with the layer name.
  @Test func masksFollowTheRateSeedAndName() throws {
    let bench = try Self.bench.get()
    let ones = [Float](repeating: 1, count: 8 * 8192)
    let big = try bench.kernel(named: "k6_dropout")
    let a = try bench.output(big, n: 8, ["x": ones], stepInfo: Self.step(1))
    let b = try bench.output(big, n: 8, ["x": ones], stepInfo: Self.step(2))
    let kept = Double(a.filter { $0 != 0 }.count) / Double(a.count)
    #expect(abs(kept - 0.75) < 0.01, "kept fraction \(kept) at rate 0.25")
    #expect(a.filter { $0 != 0 }.allSatisfy { $0 == Float(1 / 0.75) })
    #expect(a != b)
    let drop = try bench.output(
      bench.kernel(named: "k0_dropout"), n: 1, ["x": [Float](repeating: 1, count: 10)], stepInfo: Self.step(1))
    let otherName = try bench.output(
      bench.kernel(named: "k3_dropout"), n: 1, ["x": [Float](repeating: 1, count: 6)], stepInfo: Self.step(1))
    #expect(otherName == [Float](repeating: 1, count: 6), "rate 0 keeps everything")
    #expect(drop.contains(0) && drop.contains(2), "rate 0.5 over 10 values keeps some and drops some")
  }

  @Test(arguments: cases.indices)
  func oneAndTwoThreadsGiveIdenticalBits(_ i: Int) throws {
    let bench = try Self.bench.get()
    let x = randomTensor(8, [Self.cases[i].perSample], seed: 3).data
    try expectSameBitsOnOneAndTwoThreads(
      bench, bench.kernel(named: "k\(i)_dropout"), n: 8, ["x": x], stepInfo: Self.step(9))
    try expectSameBitsOnOneAndTwoThreads(
      bench, bench.kernel(named: "k\(i)_dropout_grad"), n: 8, ["dy": x], stepInfo: Self.step(9))
  }

  @Test func ratesOutsideZeroToOneAreErrors() {
    #expect(throws: KernelShapeError.self) {
      try DropoutTrainingKernel.make(name: "k_bad", layer: "d", rate: 1.5, perSample: 4)
    }
    #expect(throws: KernelShapeError.self) {
      try DropoutTrainingKernel.make(name: "k_bad", layer: "d", rate: -0.1, perSample: 4)
    }
  }
}
