// The activation gradient kernels (from the output y or the input x) against ReferenceGradients.
import KilnCodegenC
import KilnHarness
import KilnIR
import KilnReference
import KilnTestSupport
import Testing

@Suite struct ActivationGradientTests {
  struct Case: Sendable, CustomTestStringConvertible {
    var activation: Activation
    /// Whether the kernel reads the forward output (else the input), as `Autodiff.rule` decides.
    var fromOutput: Bool
    var dims: [Int]
    var testDescription: String { "\(activation) from \(fromOutput ? "y" : "x") \(dims)" }
  }

  static let cases: [Case] = [
    Case(activation: .identity, fromOutput: true, dims: [7]),
    Case(activation: .relu, fromOutput: true, dims: [3, 4, 5]),
    Case(activation: .relu6, fromOutput: true, dims: [3, 4, 5]),
    Case(activation: .leakyRelu(alpha: 0.1), fromOutput: true, dims: [11]),
    Case(activation: .elu(alpha: 1), fromOutput: true, dims: [2, 3, 3]),
    Case(activation: .sigmoid, fromOutput: true, dims: [13]),
    Case(activation: .tanh, fromOutput: true, dims: [13]),
    // α ≤ 0 makes the activation non-monotone or flat: the rule reads x.
    Case(activation: .leakyRelu(alpha: -0.2), fromOutput: false, dims: [11]),
    Case(activation: .leakyRelu(alpha: 0), fromOutput: false, dims: [11]),
    Case(activation: .elu(alpha: -0.5), fromOutput: false, dims: [2, 3, 3]),
    // The x form of the others, which the interpreter also accepts.
    Case(activation: .relu, fromOutput: false, dims: [3, 4, 5]),
    Case(activation: .sigmoid, fromOutput: false, dims: [13]),
    Case(activation: .tanh, fromOutput: false, dims: [13]),
    Case(activation: .elu(alpha: 1.5), fromOutput: false, dims: [13]),
    Case(activation: .softmax, fromOutput: true, dims: [10]),
    Case(activation: .softmax, fromOutput: true, dims: [4, 3, 3]),
    Case(activation: .logSoftmax, fromOutput: true, dims: [10]),
    Case(activation: .logSoftmax, fromOutput: true, dims: [4, 3, 3]),
    Case(activation: .softmax, fromOutput: false, dims: [4, 3, 3]),
    Case(activation: .logSoftmax, fromOutput: false, dims: [10]),
    // Above the parallel threshold at batch 8 (2^15 values).
    Case(activation: .relu, fromOutput: true, dims: [16, 16, 16]),
    Case(activation: .softmax, fromOutput: true, dims: [64, 8, 8]),
  ]

  static func name(_ i: Int) -> String { "k\(i)_act_grad" }

  static func kernels() throws -> [KernelFunction] {
    try cases.enumerated().map { i, c in
      try gradientKernel(
        name(i), .activation(c.activation), inputs: [c.dims], output: c.dims,
        operands: [.outputGradient, c.fromOutput ? .forwardOutput : .forwardInput(0)])
    }
  }

  static let bench = Result { try KernelBench(kernels()) }

  /// x (with exact zeros and values at the relu6 kinks mixed in), y = act(x) and dy of case `i` at batch `n`.
  static func inputs(_ i: Int, n: Int) throws -> (x: Tensor, y: Tensor, dy: Tensor) {
    let c = cases[i]
    var x = randomTensor(n, c.dims, seed: UInt64(700 + i), low: -8, high: 8)
    for k in stride(from: 0, to: x.count, by: 7) { x.data[k] = [0, 6, -0.0, 1][(k / 7) % 4] }
    let y = try ReferenceOps.activation(x, c.activation)
    return (x, y, randomTensor(n, c.dims, seed: UInt64(800 + i)))
  }

  static func arguments(_ c: Case, x: Tensor, y: Tensor, dy: Tensor) -> [String: [Float]] {
    c.fromOutput ? ["dy": dy.data, "y": y.data] : ["dy": dy.data, "x": x.data]
  }

  @Test(arguments: cases.indices)
  func matchesTheReference(_ i: Int) throws {
    let c = Self.cases[i]
    let bench = try Self.bench.get()
    let kernel = try bench.kernel(named: Self.name(i))
    for n in trainingBatches {
      let (x, y, dy) = try Self.inputs(i, n: n)
      let dx = try bench.output(kernel, n: n, Self.arguments(c, x: x, y: y, dy: dy))
      let expected =
        try c.fromOutput
        ? ReferenceGradients.activation(dy: dy, y: y, c.activation)
        : ReferenceGradients.activation(dy: dy, x: x, c.activation)
      expectClose(Tensor(shape: x.shape, data: dx), expected, "\(c.testDescription) n=\(n)")
    }
  }

  @Test(arguments: cases.indices)
  func oneAndTwoThreadsGiveIdenticalBits(_ i: Int) throws {
    let bench = try Self.bench.get()
    let (x, y, dy) = try Self.inputs(i, n: 8)
    try expectSameBitsOnOneAndTwoThreads(
      bench, bench.kernel(named: Self.name(i)), n: 8, Self.arguments(Self.cases[i], x: x, y: y, dy: dy))
  }

  /// PyTorch's choices at the kinks: relu′(0) = 0, relu6′(6) = 0, leaky_relu′(0) = α.
  @Test func kinksFollowPyTorch() throws {
    let bench = try Self.bench.get()
    let relu6 = try bench.output(
      bench.kernel(named: Self.name(2)), n: 1,
      ["dy": [Float](repeating: 1, count: 60), "y": [0, 6, 3] + [Float](repeating: 1, count: 57)])
    #expect(Array(relu6.prefix(3)) == [0, 0, 1])
    let leaky = try bench.output(
      bench.kernel(named: Self.name(7)), n: 1,
      ["dy": [Float](repeating: 2, count: 11), "x": [0, -1, 1] + [Float](repeating: 1, count: 8)])
    #expect(Array(leaky.prefix(3)) == [Float(2 * -0.2), Float(2 * -0.2), 2])
  }

  @Test func theOutputFormNeedsAPositiveSlope() {
    #expect(throws: KernelShapeError.self) {
      try gradientKernel(
        "k_bad", .activation(.leakyRelu(alpha: -0.1)), inputs: [[4]], output: [4],
        operands: [.outputGradient, .forwardOutput])
    }
    #expect(throws: KernelShapeError.self) {
      try gradientKernel("k_bad", .activation(.relu), inputs: [[4]], output: [4], operands: [.outputGradient])
    }
  }
}
