// Training-mode batch norm (forward, running statistics, gradients toward x, γ, β) and the LRN gradient
// against the reference.
import KilnCodegenC
import KilnHarness
import KilnIR
import KilnReference
import KilnTestSupport
import Testing

@Suite struct NormalizationGradientTests {
  struct BatchNormCase: Sendable, CustomTestStringConvertible {
    var batchNorm: BatchNorm
    var dims: [Int]
    var testDescription: String { "batchnorm ε \(batchNorm.epsilon) momentum \(batchNorm.momentum) \(dims)" }
  }

  static let batchNormCases: [BatchNormCase] = [
    BatchNormCase(batchNorm: BatchNorm(), dims: [5]),
    BatchNormCase(batchNorm: BatchNorm(), dims: [3, 4, 4]),
    BatchNormCase(batchNorm: BatchNorm(epsilon: 1e-3, momentum: 0.3), dims: [6, 5, 7]),
    // Above the parallel threshold at batch 8 (2^15 values).
    BatchNormCase(batchNorm: BatchNorm(), dims: [16, 16, 16]),
  ]

  static let lrnCases: [LRN] = [
    LRN(size: 5, alpha: 1, beta: 0.75, k: 2),
    LRN(size: 2, alpha: 0.5, beta: 0.5, k: 1),
    LRN(size: 9, alpha: 2, beta: 1, k: 1),
    // Above the parallel threshold.
    LRN(size: 5, alpha: 1e-2, beta: 0.75, k: 2),
  ]
  static let lrnDims: [[Int]] = [[5, 3, 3], [4, 5, 7], [3, 2, 2], [32, 8, 8]]

  static func kernels() throws -> [KernelFunction] {
    var kernels: [KernelFunction] = []
    for (i, c) in batchNormCases.enumerated() {
      let op = Op.batchNorm(c.batchNorm)
      kernels += [
        try BatchNormTrainingKernel.make(
          name: "k\(i)_bn_fwd", layer: "bn\(i)", batchNorm: c.batchNorm, input: TensorType(.f32, c.dims)),
        try gradientKernel(
          "k\(i)_bn_dx", op, layer: "bn\(i)", inputs: [c.dims], output: c.dims,
          operands: [.outputGradient, .forwardInput(0)]),
        try gradientKernel(
          "k\(i)_bn_dw", op, layer: "bn\(i)", inputs: [c.dims], output: c.dims, target: .parameter(.weight),
          operands: [.outputGradient, .forwardInput(0)]),
        try gradientKernel(
          "k\(i)_bn_db", op, layer: "bn\(i)", inputs: [c.dims], output: c.dims, target: .parameter(.bias),
          operands: [.outputGradient]),
      ]
    }
    for (i, l) in lrnCases.enumerated() {
      kernels.append(
        try gradientKernel(
          "k\(i)_lrn_dx", .lrn(l), inputs: [lrnDims[i]], output: lrnDims[i],
          operands: [.outputGradient, .forwardInput(0)]))
    }
    return kernels
  }

  static let bench = Result { try KernelBench(kernels()) }

  /// x, dy and the four [C] tensors of batch-norm case `i` at batch `n` (x offset and scaled per channel).
  static func batchNormInputs(_ i: Int, n: Int) -> (x: Tensor, dy: Tensor, p: [String: Tensor]) {
    let dims = batchNormCases[i].dims
    var x = randomTensor(n, dims, seed: UInt64(1000 + i), low: -1, high: 3)
    let inner = dims.dropFirst().reduce(1, *)
    for k in x.data.indices { x.data[k] *= Float(1 + (k / inner) % dims[0]) }
    var random = SeededRandom(seed: UInt64(1100 + i))
    let c = dims[0]
    let p = [
      "weight": random.tensor([c], low: -2, high: 2), "bias": random.tensor([c]),
      "running_mean": random.tensor([c]), "running_var": random.tensor([c], low: 0.5, high: 2),
    ]
    return (x, randomTensor(n, dims, seed: UInt64(1200 + i)), p)
  }

  @Test(arguments: batchNormCases.indices)
  func trainingForwardAndRunningStatisticsMatchTheReference(_ i: Int) throws {
    let bench = try Self.bench.get()
    let kernel = try bench.kernel(named: "k\(i)_bn_fwd")
    for n in trainingBatches where n * Self.batchNormCases[i].dims.dropFirst().reduce(1, *) >= 2 {
      let (x, _, p) = Self.batchNormInputs(i, n: n)
      let out = try bench.run(kernel, n: n, ["x": x.data].merging(p.mapValues(\.data)) { a, _ in a })
      let r = try ReferenceOps.batchNormTraining(
        x, weight: p["weight"]!, bias: p["bias"]!, runningMean: p["running_mean"]!, runningVar: p["running_var"]!,
        Self.batchNormCases[i].batchNorm)
      let what = "\(Self.batchNormCases[i].testDescription) n=\(n)"
      expectClose(Tensor(shape: x.shape, data: out["y"] ?? []), r.output, "\(what) y")
      expectClose(
        Tensor(shape: r.runningMean.shape, data: out["running_mean"] ?? []), r.runningMean, "\(what) running_mean")
      expectClose(
        Tensor(shape: r.runningVar.shape, data: out["running_var"] ?? []), r.runningVar, "\(what) running_var")
    }
  }

  @Test(arguments: batchNormCases.indices)
  func gradientsMatchTheReference(_ i: Int) throws {
    let bench = try Self.bench.get()
    for n in trainingBatches where n * Self.batchNormCases[i].dims.dropFirst().reduce(1, *) >= 2 {
      let (x, dy, p) = Self.batchNormInputs(i, n: n)
      let r = try ReferenceGradients.batchNormTraining(
        dy: dy, x: x, weight: p["weight"]!, Self.batchNormCases[i].batchNorm)
      let what = "\(Self.batchNormCases[i].testDescription) n=\(n)"
      let dx = try bench.output(
        bench.kernel(named: "k\(i)_bn_dx"), n: n, ["dy": dy.data, "x": x.data, "weight": p["weight"]!.data])
      expectClose(Tensor(shape: x.shape, data: dx), r.dx, "\(what) dx")
      let dw = try bench.output(bench.kernel(named: "k\(i)_bn_dw"), n: n, ["dy": dy.data, "x": x.data])
      expectClose(Tensor(shape: r.dWeight.shape, data: dw), r.dWeight, "\(what) dweight")
      let db = try bench.output(bench.kernel(named: "k\(i)_bn_db"), n: n, ["dy": dy.data])
      expectClose(Tensor(shape: r.dBias.shape, data: db), r.dBias, "\(what) dbias")
    }
  }

  /// One value per channel has no batch variance (PyTorch and the reference refuse it): NaN, and the running
  /// statistics stay as they were.
  @Test func oneValuePerChannelGivesNaNAndKeepsTheRunningStatistics() throws {
    let bench = try Self.bench.get()
    let (x, dy, p) = Self.batchNormInputs(0, n: 1)
    let out = try bench.run(
      bench.kernel(named: "k0_bn_fwd"), n: 1, ["x": x.data].merging(p.mapValues(\.data)) { a, _ in a })
    #expect(out["y"]?.allSatisfy(\.isNaN) == true)
    #expect(out["running_mean"] == p["running_mean"]!.data)
    #expect(out["running_var"] == p["running_var"]!.data)
    #expect(throws: (any Error).self) {
      try ReferenceGradients.batchNormTraining(dy: dy, x: x, weight: p["weight"]!, BatchNorm())
    }
    for (kernel, args) in [
      ("k0_bn_dx", ["dy": dy.data, "x": x.data, "weight": p["weight"]!.data]),
      ("k0_bn_dw", ["dy": dy.data, "x": x.data]),
      ("k0_bn_db", ["dy": dy.data]),
    ] {
      #expect(try bench.output(bench.kernel(named: kernel), n: 1, args).allSatisfy(\.isNaN), "\(kernel)")
    }
  }

  @Test(arguments: ["fwd", "dx", "dw", "db"])
  func batchNormGivesIdenticalBitsOnOneAndTwoThreads(_ kind: String) throws {
    let bench = try Self.bench.get()
    let (x, dy, p) = Self.batchNormInputs(3, n: 8)
    var args = p.mapValues(\.data)
    args["x"] = x.data
    args["dy"] = dy.data
    let kernel = try bench.kernel(named: "k3_bn_\(kind)")
    let used = Dictionary(uniqueKeysWithValues: kernel.parameters.compactMap { q in args[q.name].map { (q.name, $0) } })
    try expectSameBitsOnOneAndTwoThreads(bench, kernel, n: 8, used)
  }

  @Test(arguments: lrnCases.indices)
  func lrnGradientMatchesTheReference(_ i: Int) throws {
    let bench = try Self.bench.get()
    let kernel = try bench.kernel(named: "k\(i)_lrn_dx")
    for n in trainingBatches {
      let x = randomTensor(n, Self.lrnDims[i], seed: UInt64(1300 + i))
      let dy = randomTensor(n, Self.lrnDims[i], seed: UInt64(1400 + i))
      let dx = try bench.output(kernel, n: n, ["dy": dy.data, "x": x.data])
      expectClose(
        Tensor(shape: x.shape, data: dx), try ReferenceGradients.lrn(dy: dy, x: x, Self.lrnCases[i]), "lrn \(i) n=\(n)")
    }
    try expectSameBitsOnOneAndTwoThreads(
      bench, kernel, n: 8,
      ["dy": randomTensor(8, Self.lrnDims[i], seed: 1).data, "x": randomTensor(8, Self.lrnDims[i], seed: 2).data])
  }
}
