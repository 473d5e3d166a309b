// The inference batch-norm and local-response-norm kernels against the interpreter.
import KilnCodegenC
import KilnHarness
import KilnIR
import KilnReference
import KilnTestSupport
import Testing

@Suite struct NormalizationTests {
  enum Kind: Sendable {
    case batchNorm(BatchNorm, Activation)
    case lrn(LRN)
  }

  struct Case: Sendable, CustomTestStringConvertible {
    var kind: Kind
    var dims: [Int]
    /// Flat indices (in the batch-3 input) set to NaN.
    var nanAt: [Int] = []
    var testDescription: String {
      let nan = nanAt.isEmpty ? "" : " NaN"
      switch kind {
      case .batchNorm(let b, let a): return "batchnorm eps \(b.epsilon) \(a) \(dims)\(nan)"
      case .lrn(let l): return "lrn size \(l.size) α \(l.alpha) β \(l.beta) k \(l.k) \(dims)\(nan)"
      }
    }
  }

  static let cases: [Case] = [
    Case(kind: .batchNorm(BatchNorm(), .identity), dims: [5]),
    Case(kind: .batchNorm(BatchNorm(), .identity), dims: [3, 5, 7]),
    Case(kind: .batchNorm(BatchNorm(epsilon: 1e-3), .relu), dims: [4, 3, 3]),
    Case(kind: .batchNorm(BatchNorm(), .sigmoid), dims: [6]),
    Case(kind: .batchNorm(BatchNorm(), .relu6), dims: [2, 7, 5], nanAt: [4, 80]),
    // Above the parallel threshold (2^15 values per batch of 3).
    Case(kind: .batchNorm(BatchNorm(), .leakyRelu(alpha: 0.1)), dims: [64, 16, 16]),
    // AlexNet's LRN, with a larger α so the normalization is far from the identity.
    Case(kind: .lrn(LRN(size: 5, alpha: 1, beta: 0.75, k: 2)), dims: [5, 3, 3]),
    Case(kind: .lrn(LRN(size: 3, alpha: 0.1)), dims: [7]),
    // An even size: the window takes one more channel before c than after.
    Case(kind: .lrn(LRN(size: 2, alpha: 0.5, beta: 0.5, k: 1)), dims: [4, 5, 7]),
    // A window wider than the channels: every channel sums all, and still divides α by size.
    Case(kind: .lrn(LRN(size: 9, alpha: 2, beta: 1, k: 1)), dims: [3, 2, 2], nanAt: [5]),
    Case(kind: .lrn(LRN(size: 5, alpha: 1e-4, beta: 0.75, k: 2)), dims: [96, 13, 13]),
  ]

  static func kernels() throws -> [KernelFunction] {
    try cases.enumerated().map { i, c in
      let input = TensorType(.f32, c.dims)
      switch c.kind {
      case .batchNorm(let b, let a):
        return try BatchNormKernel.make(name: "k\(i)_bn", layer: "bn\(i)", batchNorm: b, input: input, activation: a)
      case .lrn(let l): return try LRNKernel.make(name: "k\(i)_lrn", lrn: l, input: input)
      }
    }
  }

  static let bench = Result { try KernelBench(kernels()) }
  static let serialBench = Result {
    try KernelBench(kernels(), options: BuildOptions(openMP: false, warningsAsErrors: true))
  }

  static func input(_ i: Int) -> Tensor {
    var random = SeededRandom(seed: UInt64(200 + i))
    var x = random.tensor([3] + cases[i].dims, low: -3, high: 3)
    for k in cases[i].nanAt { x.data[k] = .nan }
    return x
  }

  /// γ, β, running mean and running variance (positive) for a batch norm over `channels`.
  static func statistics(_ i: Int, channels: Int) -> [String: Tensor] {
    var random = SeededRandom(seed: UInt64(300 + i))
    return [
      "weight": random.tensor([channels], low: -2, high: 2), "bias": random.tensor([channels], low: -1, high: 1),
      "running_mean": random.tensor([channels], low: -1, high: 1),
      "running_var": random.tensor([channels], low: 0.25, high: 3),
    ]
  }

  static func arguments(_ i: Int) -> [String: [Float]] {
    var args = ["x": input(i).data]
    if case .batchNorm = cases[i].kind {
      for (name, t) in statistics(i, channels: cases[i].dims[0]) { args[name] = t.data }
    }
    return args
  }

  @Test(arguments: cases.indices)
  func matchesTheInterpreterAtBatchThreeAndOne(_ i: Int) throws {
    let c = Self.cases[i]
    let bench = try Self.bench.get()
    let kernel = try bench.kernel(at: i)
    switch c.kind {
    case .batchNorm(let b, let a):
      let s = Self.statistics(i, channels: c.dims[0])
      try expectKernel(
        bench, kernel, inputs: ["x": Self.input(i)], parameters: s.mapValues(\.data), c.testDescription
      ) {
        let normalized = try ReferenceOps.batchNormInference(
          $0.named("x"), weight: s.named("weight"), bias: s.named("bias"), runningMean: s.named("running_mean"),
          runningVar: s.named("running_var"), b)
        return try ReferenceOps.activation(normalized, a)
      }
    case .lrn(let l):
      try expectKernel(bench, kernel, inputs: ["x": Self.input(i)], c.testDescription) {
        try ReferenceOps.lrn($0.named("x"), l)
      }
    }
  }

  @Test(arguments: cases.indices)
  func oneAndTwoThreadsGiveIdenticalBits(_ i: Int) throws {
    let bench = try Self.bench.get()
    try expectThreadCountIndependent(bench, bench.kernel(at: i), n: 3, Self.arguments(i))
  }

  @Test(arguments: cases.indices)
  func buildWithoutOpenMPGivesIdenticalBits(_ i: Int) throws {
    let (bench, serial) = (try Self.bench.get(), try Self.serialBench.get())
    let parallel = try bench.run(bench.kernel(at: i), n: 3, Self.arguments(i))["y"] ?? []
    let sequential = try serial.run(serial.kernel(at: i), n: 3, Self.arguments(i))["y"] ?? []
    #expect(bitPatterns(parallel) == bitPatterns(sequential))
  }

  @Test func batchNormNamesItsParameterTensors() throws {
    let k = try BatchNormKernel.make(
      name: "k1_bn", layer: "bn1", batchNorm: BatchNorm(), input: TensorType(.f32, [4, 2, 2]))
    #expect(k.parameters.map(\.name) == ["x", "weight", "bias", "running_mean", "running_var", "y"])
    #expect(k.parameters.compactMap(\.tensor) == ["bn1.weight", "bn1.bias", "bn1.running_mean", "bn1.running_var"])
    #expect(k.parameters.map(\.floats) == [16, 4, 4, 4, 4, 16])
  }

  @Test func badTypesAndAttributesAreErrors() {
    #expect(throws: KernelShapeError.self) {
      try BatchNormKernel.make(name: "k_bn", layer: "bn", batchNorm: BatchNorm(), input: TensorType(.f32, []))
    }
    #expect(throws: KernelShapeError.self) {
      try BatchNormKernel.make(
        name: "k_bn", layer: "bn", batchNorm: BatchNorm(), input: TensorType(.f32, [4]), activation: .softmax)
    }
    #expect(throws: KernelShapeError.self) {
      try LRNKernel.make(name: "k_lrn", lrn: LRN(size: 0), input: TensorType(.f32, [4, 2, 2]))
    }
    #expect(throws: KernelShapeError.self) {
      try LRNKernel.make(name: "k_lrn", lrn: LRN(size: 3), input: TensorType(.i64, [4]))
    }
  }
}
