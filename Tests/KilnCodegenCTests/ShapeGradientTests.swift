// The reshape, flatten, concat and mul gradient kernels against ReferenceGradients.
import KilnCodegenC
import KilnHarness
import KilnIR
import KilnReference
import KilnTestSupport
import Testing

@Suite struct ShapeGradientTests {
  struct Case: Sendable, CustomTestStringConvertible {
    var op: Op
    /// Per-sample dims of the forward inputs, and of its output.
    var inputs: [[Int]]
    var output: [Int]
    var target: Int
    var testDescription: String { "\(op.name) \(inputs) → \(output) toward x\(target)" }

    var operands: [GradientOperand] {
      op == .mul ? [.outputGradient, .forwardInput(1 - target)] : [.outputGradient]
    }
  }

  static let concatInputs = [[2, 3, 4], [1, 3, 4], [5, 3, 4]]

  static let cases: [Case] = [
    Case(op: .flatten, inputs: [[3, 4, 5]], output: [60], target: 0),
    Case(op: .reshape(dims: [4, -1]), inputs: [[24]], output: [4, 6], target: 0),
    Case(op: .concat, inputs: concatInputs, output: [8, 3, 4], target: 0),
    Case(op: .concat, inputs: concatInputs, output: [8, 3, 4], target: 1),
    Case(op: .concat, inputs: concatInputs, output: [8, 3, 4], target: 2),
    Case(op: .concat, inputs: [[3], [7]], output: [10], target: 1),
    Case(op: .mul, inputs: [[3, 5], [3, 5]], output: [3, 5], target: 0),
    Case(op: .mul, inputs: [[3, 5], [3, 5]], output: [3, 5], target: 1),
    // Above the parallel threshold at batch 8.
    Case(op: .flatten, inputs: [[16, 32, 32]], output: [16384], target: 0),
    Case(op: .concat, inputs: [[16, 32, 32], [8, 32, 32]], output: [24, 32, 32], target: 1),
  ]

  static func name(_ i: Int) -> String { "k\(i)_shape_grad" }

  static func kernels() throws -> [KernelFunction] {
    try cases.enumerated().map { i, c in
      try gradientKernel(
        name(i), c.op, inputs: c.inputs, output: c.output, target: .input(c.target), operands: c.operands)
    }
  }

  static let bench = Result { try KernelBench(kernels()) }

  /// The kernel's arguments and the reference dx of case `i` at batch `n`.
  static func run(_ i: Int, n: Int) throws -> (arguments: [String: [Float]], expected: Tensor) {
    let c = cases[i]
    let dy = randomTensor(n, c.output, seed: UInt64(900 + i))
    let shapes = c.inputs.map { [n] + $0 }
    switch c.op {
    case .mul:
      let a = randomTensor(n, c.inputs[0], seed: UInt64(950 + i))
      let b = randomTensor(n, c.inputs[1], seed: UInt64(970 + i))
      let r = try ReferenceGradients.mul(dy: dy, a: a, b: b)
      // ElementwiseBinaryKernel's names: a = dy, b = the other operand.
      return (["a": dy.data, "b": (c.target == 0 ? b : a).data], c.target == 0 ? r.da : r.db)
    case .concat:
      return (["dy": dy.data], try ReferenceGradients.concat(dy: dy, inputShapes: shapes)[c.target])
    default:
      return (["dy": dy.data], try ReferenceGradients.reshape(dy: dy, inputShape: shapes[0]))
    }
  }

  @Test(arguments: cases.indices)
  func matchesTheReference(_ i: Int) throws {
    let bench = try Self.bench.get()
    let kernel = try bench.kernel(named: Self.name(i))
    for n in trainingBatches {
      let (arguments, expected) = try Self.run(i, n: n)
      let dx = try bench.output(kernel, n: n, arguments)
      // Copies and single float products: exact.
      #expect(bitPatterns(dx) == bitPatterns(expected.data), "\(Self.cases[i].testDescription) n=\(n)")
    }
  }

  @Test(arguments: cases.indices)
  func oneAndTwoThreadsGiveIdenticalBits(_ i: Int) throws {
    let bench = try Self.bench.get()
    try expectSameBitsOnOneAndTwoThreads(bench, bench.kernel(named: Self.name(i)), n: 8, Self.run(i, n: 8).arguments)
  }

  @Test func mismatchedTypesAreErrors() {
    #expect(throws: KernelShapeError.self) {
      // dy of concat must have the channels of all inputs.
      try gradientKernel(
        "k_bad", .concat, inputs: [[2, 3], [1, 3]], output: [2, 3], target: .input(1), operands: [.outputGradient])
    }
    #expect(throws: KernelShapeError.self) {
      // mul toward x0 reads x1, not x0.
      try gradientKernel(
        "k_bad", .mul, inputs: [[4], [4]], output: [4], operands: [.outputGradient, .forwardInput(0)])
    }
    #expect(throws: KernelShapeError.self) {
      // dense has its own gradient kernels.
      try gradientKernel("k_bad", .dense(Dense(units: 2)), inputs: [[4]], output: [2], operands: [.outputGradient])
    }
  }
}
