// The loss value and loss gradient kernels against ReferenceOps.loss and ReferenceGradients.loss.
import KilnCodegenC
import KilnHarness
import KilnIR
import KilnReference
import KilnTestSupport
import Testing

@Suite struct LossTests {
  struct Case: Sendable, CustomTestStringConvertible {
    var kind: LossKind
    var dims: [Int]
    /// The prediction's range: ±60 puts bce_with_logits where the naive log(1 + e^−x) would overflow.
    var scale: Float = 3
    var testDescription: String { "\(kind.rawValue) \(dims) ±\(scale)" }
  }

  static let cases: [Case] = [
    Case(kind: .softmaxCrossEntropy, dims: [10]),
    Case(kind: .softmaxCrossEntropy, dims: [3], scale: 60),
    Case(kind: .binaryCrossEntropyWithLogits, dims: [1]),
    Case(kind: .binaryCrossEntropyWithLogits, dims: [3, 2, 2], scale: 60),
    Case(kind: .meanSquaredError, dims: [1]),
    Case(kind: .meanSquaredError, dims: [4, 5]),
    Case(kind: .meanAbsoluteError, dims: [7]),
    Case(kind: .meanAbsoluteError, dims: [2, 3, 3]),
    // Above the parallel threshold at batch 8 (the gradient).
    Case(kind: .softmaxCrossEntropy, dims: [4096]),
    Case(kind: .meanSquaredError, dims: [16, 16, 16]),
  ]

  static func kernels() throws -> [KernelFunction] {
    try cases.enumerated().flatMap { i, c -> [KernelFunction] in
      let target = c.kind.takesClassIndices ? TensorType(.i64, []) : TensorType(.f32, c.dims)
      return [
        try LossKernel.make(name: "k\(i)_loss", kind: c.kind, prediction: TensorType(.f32, c.dims), target: target),
        try gradientKernel(
          "k\(i)_loss_grad", .loss(c.kind), inputs: [c.dims, c.dims], output: [],
          operands: [.forwardInput(0), .forwardInput(1)]),
      ]
    }
  }

  static let bench = Result { try KernelBench(kernels()) }

  /// Prediction and target of case `i` at batch `n`; float targets share some values with the prediction
  /// (mae's derivative is 0 there) and lie in [0, 1] for bce.
  static func inputs(_ i: Int, n: Int) -> (prediction: Tensor, target: AnyTensor) {
    let c = cases[i]
    let x = randomTensor(n, c.dims, seed: UInt64(1500 + i), low: -c.scale, high: c.scale)
    if c.kind.takesClassIndices {
      var random = SeededRandom(seed: UInt64(1600 + i))
      let labels = (0..<n).map { _ in Int64.random(in: 0..<Int64(c.dims[0]), using: &random) }
      return (x, .i64(IntTensor(shape: [n], data: labels)))
    }
    var t = randomTensor(
      n, c.dims, seed: UInt64(1700 + i), low: c.kind == .binaryCrossEntropyWithLogits ? 0 : -c.scale,
      high: c.kind == .binaryCrossEntropyWithLogits ? 1 : c.scale)
    for k in stride(from: 0, to: t.count, by: 3) where c.kind != .binaryCrossEntropyWithLogits { t.data[k] = x.data[k] }
    return (x, .f32(t))
  }

  static func run(
    _ bench: KernelBench, _ kernel: KernelFunction, n: Int, _ x: Tensor, _ target: AnyTensor
  ) throws -> [Float] {
    switch target {
    case .i64(let labels):
      return try bench.output(kernel, n: n, ["prediction": x.data], labels: ["target": labels.data])
    case .f32(let t): return try bench.output(kernel, n: n, ["prediction": x.data, "target": t.data])
    }
  }

  @Test(arguments: cases.indices)
  func valueMatchesTheReference(_ i: Int) throws {
    let bench = try Self.bench.get()
    for n in trainingBatches {
      let (x, target) = Self.inputs(i, n: n)
      let loss = try Self.run(bench, bench.kernel(named: "k\(i)_loss"), n: n, x, target)
      let expected = Float(try ReferenceOps.loss(Self.cases[i].kind, prediction: x, target: target))
      expectClose(
        Tensor(shape: [], data: loss), Tensor(shape: [], data: [expected]), "\(Self.cases[i].testDescription) n=\(n)")
    }
  }

  @Test(arguments: cases.indices)
  func gradientMatchesTheReference(_ i: Int) throws {
    let bench = try Self.bench.get()
    for n in trainingBatches {
      let (x, target) = Self.inputs(i, n: n)
      let dx = try Self.run(bench, bench.kernel(named: "k\(i)_loss_grad"), n: n, x, target)
      let expected = try ReferenceGradients.loss(Self.cases[i].kind, prediction: x, target: target)
      expectClose(Tensor(shape: x.shape, data: dx), expected, "\(Self.cases[i].testDescription) n=\(n)")
    }
  }

  @Test(arguments: cases.indices)
  func oneAndTwoThreadsGiveIdenticalBits(_ i: Int) throws {
    let bench = try Self.bench.get()
    let (x, target) = Self.inputs(i, n: 8)
    for name in ["k\(i)_loss", "k\(i)_loss_grad"] {
      switch target {
      case .i64(let labels):
        try expectSameBitsOnOneAndTwoThreads(
          bench, bench.kernel(named: name), n: 8, ["prediction": x.data], labels: ["target": labels.data])
      case .f32(let t):
        try expectSameBitsOnOneAndTwoThreads(
          bench, bench.kernel(named: name), n: 8, ["prediction": x.data, "target": t.data])
      }
    }
  }

  /// A label outside 0..<C would index past the row: the reference refuses it, the kernels give NaN
  /// (the loss, and that sample's gradient row) instead of reading out of bounds.
  @Test func outOfRangeLabelsGiveNaN() throws {
    let bench = try Self.bench.get()
    let x = randomTensor(3, [10], seed: 5)
    for bad: Int64 in [10, -1] {
      let labels: [Int64] = [2, bad, 7]
      let loss = try bench.output(
        bench.kernel(named: "k0_loss"), n: 3, ["prediction": x.data], labels: ["target": labels])
      #expect(loss.count == 1 && loss[0].isNaN)
      let dx = try bench.output(
        bench.kernel(named: "k0_loss_grad"), n: 3, ["prediction": x.data], labels: ["target": labels])
      let rows = (0..<3).map { s in dx[(s * 10)..<(s * 10 + 10)].filter(\.isNaN).count }
      #expect(rows == [0, 10, 0], "NaN count per sample row for label \(bad)")
      #expect(throws: (any Error).self) {
        try ReferenceOps.loss(.softmaxCrossEntropy, prediction: x, target: .i64(IntTensor(shape: [3], data: labels)))
      }
    }
  }

  @Test func mismatchedTypesAreErrors() {
    #expect(throws: KernelShapeError.self) {
      try LossKernel.make(
        name: "k_bad", kind: .softmaxCrossEntropy, prediction: TensorType(.f32, [10]), target: TensorType(.f32, [10]))
    }
    #expect(throws: KernelShapeError.self) {
      try LossKernel.make(
        name: "k_bad", kind: .softmaxCrossEntropy, prediction: TensorType(.f32, [2, 5]), target: TensorType(.i64, []))
    }
    #expect(throws: KernelShapeError.self) {
      try LossKernel.make(
        name: "k_bad", kind: .meanSquaredError, prediction: TensorType(.f32, [4]), target: TensorType(.f32, [5]))
    }
  }
}
