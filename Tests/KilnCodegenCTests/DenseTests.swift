// The dense kernels (OpenBLAS and Kiln's own loops) against the interpreter; thread-count and no-OpenMP builds.
import KilnCodegenC
import KilnHarness
import KilnIR
import KilnReference
import KilnTestSupport
import Testing

extension KernelBench {
  /// A bench of `kernels` whose OpenBLAS, if linked, runs single-threaded, as the generated module makes it:
  /// the kernels parallelize with OpenMP around their BLAS calls.
  static func singleThreadedBLAS(_ kernels: [KernelFunction], options: BuildOptions? = nil) throws -> KernelBench {
    let bench = try KernelBench(kernels, options: options)
    if kernels.contains(where: \.usesBLAS) {
      // dlsym on the bench's handle also searches its dependencies, libopenblas among them.
      try bench.library.withSymbol("openblas_set_num_threads", as: (@convention(c) (Int32) -> Void).self) { $0(1) }
    }
    return bench
  }
}

/// The absolute allowance for a float dot product of `depth` terms with |x| ≤ `xMax`, |w| ≤ `wMax`, compared
/// with the interpreter's Double sum (rtol 1e-4 alone fails outputs that cancel to near zero).
///
/// Adding term k rounds by at most 2⁻²⁴ of the partial sum, which for random-sign terms grows like √k times
/// the term scale s = xMax·wMax; the K rounding errors add as a random walk, √(Σk·s²) ≈ K·s/√2, so the error
/// is about 2⁻²⁴·K·s. Allowed: four times that. Observed max |error| 2.7e-5 at K = 784, s = 2 (allowance 3.7e-4).
func accumulationTolerance(depth: Int, xMax: Double, wMax: Double) -> Double {
  4 * 0x1p-24 * Double(depth) * xMax * wMax
}

@Suite struct DenseTests {
  struct Case: Sendable, CustomTestStringConvertible {
    var inFeatures: Int
    var units: Int
    var bias: Bool
    var activation: Activation
    /// Batches run one after another through the same compiled kernel.
    var batches: [Int]
    var testDescription: String { "\(inFeatures)→\(units) bias \(bias) \(activation) n \(batches)" }
  }

  static let cases: [Case] = [
    Case(inFeatures: 1, units: 1, bias: true, activation: .identity, batches: [3, 1]),
    Case(inFeatures: 7, units: 5, bias: false, activation: .relu, batches: [5, 1, 3]),
    Case(inFeatures: 33, units: 10, bias: true, activation: .leakyRelu(alpha: 0.1), batches: [9, 1]),
    Case(inFeatures: 3, units: 5, bias: true, activation: .sigmoid, batches: [4, 2]),
    Case(inFeatures: 100, units: 37, bias: false, activation: .identity, batches: [1, 7]),
    Case(inFeatures: 784, units: 100, bias: true, activation: .relu, batches: [64, 1, 3]),
    Case(inFeatures: 129, units: 513, bias: true, activation: .tanh, batches: [5, 1]),
  ]

  static func name(_ i: Int, blas: Bool) -> String { "k\(i)_dense_\(blas ? "blas" : "loops")" }

  static func kernels(blas: Bool) -> [KernelFunction] {
    cases.enumerated().map { i, c in
      DenseKernel.make(
        name: name(i, blas: blas), layer: "fc\(i)",
        dense: Dense(units: c.units, bias: c.bias, activation: c.activation), inFeatures: c.inFeatures,
        options: KernelOptions(blas: blas))
    }
  }

  static let blasBench = Result { try KernelBench.singleThreadedBLAS(kernels(blas: true)) }
  static let loopsBench = Result { try KernelBench(kernels(blas: false)) }

  /// Runs case `i` at batch `n` on `bench` and compares with `ReferenceOps.dense`.
  func check(_ i: Int, blas: Bool, n: Int, on bench: KernelBench, seed: UInt64) throws {
    let c = Self.cases[i]
    var random = SeededRandom(seed: seed)
    let x = random.tensor([n, c.inFeatures], low: -2, high: 2)
    let w = random.tensor([c.units, c.inFeatures], low: -1, high: 1)
    let b = random.tensor([c.units], low: -1, high: 1)
    let kernel = try #require(bench.kernels[Self.name(i, blas: blas)])
    var arguments = ["x": x.data, "weight": w.data]
    if c.bias { arguments["bias"] = b.data }
    let y = try bench.run(kernel, n: n, arguments)
    let expected = try ReferenceOps.dense(x, weight: w, bias: c.bias ? b : nil, activation: c.activation)
    expectClose(
      Tensor(shape: [n, c.units], data: y["y"] ?? []), expected,
      atol: accumulationTolerance(depth: c.inFeatures, xMax: 2, wMax: 1), "\(c.testDescription) at n=\(n), \(blas ? "BLAS" : "loops")")
  }

  @Test(arguments: cases.indices)
  func blasMatchesTheInterpreter(_ i: Int) throws {
    for (k, n) in Self.cases[i].batches.enumerated() { try check(i, blas: true, n: n, on: Self.blasBench.get(), seed: UInt64(i * 10 + k)) }
  }

  @Test(arguments: cases.indices)
  func loopsMatchTheInterpreter(_ i: Int) throws {
    for (k, n) in Self.cases[i].batches.enumerated() { try check(i, blas: false, n: n, on: Self.loopsBench.get(), seed: UInt64(i * 10 + k)) }
  }

  /// 784→512 is above the parallel threshold at batch 1 and 64; both variants give the same bits on 1 and 2 threads.
  @Test(arguments: [true, false], [1, 64])
  func resultsDoNotDependOnTheThreadCount(blas: Bool, n: Int) throws {
    let bench = try Self.threadBench.get()
    let kernel = try #require(bench.kernels[blas ? "k_blas" : "k_loops"])
    var random = SeededRandom(seed: 99)
    let x = random.tensor([n, 784]).data
    let w = random.tensor([512, 784]).data
    let b = random.tensor([512]).data
    try bench.setThreads(1)
    let one = try bench.run(kernel, n: n, ["x": x, "weight": w, "bias": b])
    try bench.setThreads(2)
    let two = try bench.run(kernel, n: n, ["x": x, "weight": w, "bias": b])
    #expect(one["y"] == two["y"])
  }

  static let threadBench = Result {
    let dense = Dense(units: 512, activation: .relu)
    return try KernelBench.singleThreadedBLAS([
      DenseKernel.make(name: "k_blas", layer: "fc", dense: dense, inFeatures: 784, options: KernelOptions(blas: true)),
      DenseKernel.make(name: "k_loops", layer: "fc", dense: dense, inFeatures: 784, options: KernelOptions(blas: false)),
    ])
  }

  /// Without -fopenmp the pragmas drop out (guarded, so even gcc's -Wunknown-pragmas stays quiet) and the
  /// loops run serially with the same results.
  @Test func compilesAndMatchesWithoutOpenMP() throws {
    let kernels = Self.kernels(blas: true) + Self.kernels(blas: false)
    let bench = try KernelBench.singleThreadedBLAS(kernels, options: BuildOptions(openMP: false, warningsAsErrors: true))
    for i in Self.cases.indices {
      try check(i, blas: true, n: 5, on: bench, seed: 7)
      try check(i, blas: false, n: 5, on: bench, seed: 7)
    }
  }
}
