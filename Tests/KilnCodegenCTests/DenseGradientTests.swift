// The dense backward kernels (dx, dW, db; OpenBLAS and Kiln's loops) against the reference VJP; thread counts;
// the errors for what autodiff never hands them.
import KilnCodegenC
import KilnHarness
import KilnIR
import KilnReference
import KilnTestSupport
import Testing

/// The three gradients of a layer with a weight and a bias, with the output each kernel writes.
let gradientTargets: [(target: Gradient.Target, output: String)] = [
  (.input(0), "dx"), (.parameter(.weight), "dweight"), (.parameter(.bias), "dbias"),
]

@Suite struct DenseGradientTests {
  struct Case: Sendable, CustomTestStringConvertible {
    var inFeatures: Int
    var units: Int
    var bias: Bool
    /// Batches run one after another through the same compiled kernels.
    var batches: [Int]
    var testDescription: String { "\(inFeatures)→\(units) bias \(bias) n \(batches)" }
  }

  /// Sizes that are and are not multiples of 4 (the loops' groups of samples and units) and of 16 (the BLAS
  /// blocks), batches below and above 4, and MNIST's 784→100 at batch 64.
  static let cases: [Case] = [
    Case(inFeatures: 1, units: 1, bias: true, batches: [3, 1]),
    Case(inFeatures: 7, units: 5, bias: false, batches: [5, 1, 4]),
    Case(inFeatures: 33, units: 10, bias: true, batches: [9, 1]),
    Case(inFeatures: 3, units: 17, bias: true, batches: [4, 2]),
    Case(inFeatures: 100, units: 37, bias: false, batches: [1, 7]),
    Case(inFeatures: 784, units: 100, bias: true, batches: [64, 1, 3]),
    Case(inFeatures: 129, units: 513, bias: true, batches: [6, 1]),
  ]

  static func name(_ i: Int, _ output: String, blas: Bool) -> String { "k\(i)_\(output)_\(blas ? "blas" : "loops")" }

  static func kernels(blas: Bool) throws -> [KernelFunction] {
    try cases.enumerated().flatMap { i, c in
      try gradientTargets.filter { c.bias || $0.output != "dbias" }.map { target, output in
        try DenseGradientKernel.make(
          name: name(i, output, blas: blas), layer: "fc\(i)", dense: Dense(units: c.units, bias: c.bias),
          inFeatures: c.inFeatures, target: target, options: KernelOptions(blas: blas))
      }
    }
  }

  static let blasBench = Result { try KernelBench.singleThreadedBLAS(kernels(blas: true)) }
  static let loopsBench = Result { try KernelBench(kernels(blas: false)) }

  /// Runs case `i`'s kernels at batch `n` and compares each with `ReferenceGradients.dense`.
  func check(_ i: Int, blas: Bool, n: Int, on bench: KernelBench, seed: UInt64) throws {
    let c = Self.cases[i]
    var random = SeededRandom(seed: seed)
    let x = random.tensor([n, c.inFeatures], low: -2, high: 2)
    let w = random.tensor([c.units, c.inFeatures], low: -1, high: 1)
    let b = random.tensor([c.units], low: -1, high: 1)
    let dy = random.tensor([n, c.units], low: -1, high: 1)
    let expected = try ReferenceGradients.dense(dy: dy, x: x, weight: w, bias: c.bias ? b : nil)
    let arguments = ["dy": dy.data, "x": x.data, "weight": w.data]
    // dx sums `units` products dy·W (|dy|, |W| ≤ 1); dW and db sum `n` products dy·x (|x| ≤ 2) and dy.
    let checks: [(String, Tensor?, Double)] = [
      ("dx", expected.dx, accumulationTolerance(depth: c.units, xMax: 1, wMax: 1)),
      ("dweight", expected.dWeight, accumulationTolerance(depth: n, xMax: 2, wMax: 1)),
      ("dbias", expected.dBias, accumulationTolerance(depth: n, xMax: 1, wMax: 1)),
    ]
    for (output, reference, atol) in checks {
      guard let reference else { continue }
      let kernel = try #require(bench.kernels[Self.name(i, output, blas: blas)])
      let result = try bench.run(kernel, n: n, arguments)[output] ?? []
      expectClose(
        Tensor(shape: reference.shape, data: result), reference, atol: atol,
        "\(output) of \(c.testDescription) at n=\(n), \(blas ? "BLAS" : "loops")")
    }
  }

  @Test(arguments: cases.indices)
  func blasMatchesTheReference(_ i: Int) throws {
    for (k, n) in Self.cases[i].batches.enumerated() {
      try check(i, blas: true, n: n, on: Self.blasBench.get(), seed: UInt64(i * 10 + k))
    }
  }

  @Test(arguments: cases.indices)
  func loopsMatchTheReference(_ i: Int) throws {
    for (k, n) in Self.cases[i].batches.enumerated() {
      try check(i, blas: false, n: n, on: Self.loopsBench.get(), seed: UInt64(i * 10 + k))
    }
  }

  /// 784→512 at batch 64 is above the parallel threshold: every gradient, both variants, the same bits on 1
  /// and 2 threads (dW and db sum the batch, which must not be split by thread).
  static let threadBench = Result {
    try KernelBench.singleThreadedBLAS(
      [true, false].flatMap { blas in
        try gradientTargets.map { target, output in
          try DenseGradientKernel.make(
            name: "k_\(output)_\(blas ? "blas" : "loops")", layer: "fc", dense: Dense(units: 512), inFeatures: 784,
            target: target, options: KernelOptions(blas: blas))
        }
      })
  }

  @Test(arguments: [true, false], [1, 64])
  func resultsDoNotDependOnTheThreadCount(blas: Bool, n: Int) throws {
    let bench = try Self.threadBench.get()
    var random = SeededRandom(seed: 99)
    let arguments = [
      "x": random.tensor([n, 784]).data, "weight": random.tensor([512, 784]).data, "dy": random.tensor([n, 512]).data,
    ]
    for (_, output) in gradientTargets {
      let kernel = try #require(bench.kernels["k_\(output)_\(blas ? "blas" : "loops")"])
      try bench.setThreads(1)
      let one = try bench.run(kernel, n: n, arguments)[output]
      try bench.setThreads(2)
      let two = try bench.run(kernel, n: n, arguments)[output]
      #expect(one != nil && one == two, "\(kernel.name) at n=\(n): 1 and 2 threads differ")
    }
  }

  /// An empty batch has zero parameter gradients (the outputs start as NaN in the bench).
  @Test(arguments: [true, false])
  func anEmptyBatchGivesZeroParameterGradients(blas: Bool) throws {
    let bench = try Self.threadBench.get()
    for output in ["dweight", "dbias"] {
      let kernel = try #require(bench.kernels["k_\(output)_\(blas ? "blas" : "loops")"])
      let result = try bench.run(kernel, n: 0, ["dy": [], "x": []])[output] ?? []
      #expect(result.count == (output == "dbias" ? 512 : 512 * 784) && result.allSatisfy { $0 == 0 }, "\(kernel.name)")
    }
  }

  @Test func theParametersAreTheDocumentedOnes() throws {
    let dense = Dense(units: 3)
    func parameters(_ target: Gradient.Target) throws -> [String] {
      try DenseGradientKernel.make(
        name: "k", layer: "fc", dense: dense, inFeatures: 5, target: target, options: KernelOptions()
      ).parameters.map { "\($0.name):\($0.role.rawValue):\($0.tensor ?? "-"):\($0.floats):\($0.batched)" }
    }
    #expect(
      try parameters(.input(0)) == ["dy:input:-:3:true", "weight:parameter:fc.weight:15:true", "dx:output:-:5:true"])
    #expect(
      try parameters(.parameter(.weight)) == ["dy:input:-:3:true", "x:input:-:5:true", "dweight:output:-:15:false"])
    #expect(try parameters(.parameter(.bias)) == ["dy:input:-:3:true", "dbias:output:-:3:false"])
  }

  /// What autodiff never produces is refused with the layer's name rather than computed wrongly.
  @Test func refusesWhatItCannotDifferentiate() {
    func make(_ dense: Dense, _ target: Gradient.Target, inFeatures: Int = 4) throws {
      _ = try DenseGradientKernel.make(
        name: "k9", layer: "fc", dense: dense, inFeatures: inFeatures, target: target, options: KernelOptions())
    }
    var fused = Dense(units: 3)
    fused.epilogue = [.add]
    let folded = Dense(units: 3, foldedBatchNorm: FoldedBatchNorm(name: "bn", epsilon: 1e-5, sourceBias: false))
    let refused: [(Dense, Gradient.Target, Int, String)] = [
      (Dense(units: 3, activation: .relu), .input(0), 4, "activation"),
      (fused, .parameter(.weight), 4, "epilogue"),
      (folded, .parameter(.weight), 4, "folded"),
      (Dense(units: 3, bias: false), .parameter(.bias), 4, "no bias"),
      (Dense(units: 3), .input(1), 4, "no x1"),
      (Dense(units: 3), .parameter(.runningMean), 4, "no running_mean"),
      (Dense(units: 3), .input(0), 0, "≥ 1"),
    ]
    for (dense, target, inFeatures, words) in refused {
      #expect {
        try make(dense, target, inFeatures: inFeatures)
      } throws: { error in
        "\(error)".contains("kernel k9") && "\(error)".contains("'fc'") && "\(error)".contains(words)
      }
    }
  }

  /// The catalog's entry point unpacks a gradient node as lowering hands it over.
  @Test func buildsFromAGradientNode() throws {
    let node = Gradient(
      forward: .dense(Dense(units: 6)), forwardName: "fc2", forwardInputTypes: [TensorType(.f32, [2, 5])],
      target: .parameter(.weight), operands: [.outputGradient, .forwardInput(0)])
    #expect(DenseGradientKernel.differentiates(node) && !Conv2DGradientKernel.differentiates(node))
    let kernel = try DenseGradientKernel.make(name: "k3_grad_fc2", gradient: node, options: KernelOptions(blas: false))
    #expect(kernel.parameters.map(\.name) == ["dy", "x", "dweight"])
    #expect(kernel.parameters.map(\.floats) == [6, 10, 60])
    #expect(kernel.definition.contains("static void k3_grad_fc2(int n,"))
  }
}
