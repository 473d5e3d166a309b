// The concatenation kernel (dimension 1, two or more inputs) against the interpreter.
import KilnCodegenC
import KilnHarness
import KilnIR
import KilnReference
import KilnTestSupport
import Testing

@Suite struct ConcatTests {
  struct Case: Sendable, CustomTestStringConvertible {
    /// Per-sample dimensions of each input; they differ only in the first (the channels).
    var inputs: [[Int]]
    var testDescription: String { "concat " + inputs.map { "\($0)" }.joined(separator: " + ") }
  }

  static let cases: [Case] = [
    Case(inputs: [[3], [5]]),
    Case(inputs: [[2, 5, 7], [1, 5, 7]]),
    Case(inputs: [[1, 3, 3], [4, 3, 3], [2, 3, 3]]),
    Case(inputs: [[1], [1], [1], [1], [1]]),
    // Above the parallel threshold (2^15 output values per batch of 3).
    Case(inputs: [[24, 16, 16], [8, 16, 16]]),
  ]

  static func kernels() throws -> [KernelFunction] {
    try cases.enumerated().map { i, c in
      try ConcatKernel.make(name: "k\(i)_concat", inputs: c.inputs.map { TensorType(.f32, $0) })
    }
  }

  static let bench = Result { try KernelBench(kernels()) }
  static let serialBench = Result {
    try KernelBench(kernels(), options: BuildOptions(openMP: false, warningsAsErrors: true))
  }

  /// The batch-3 inputs `x0`, `x1`, …; a NaN in the first keeps its bits through the copy.
  static func inputs(_ i: Int) -> [String: Tensor] {
    var random = SeededRandom(seed: UInt64(500 + i))
    var result: [String: Tensor] = [:]
    for (k, dims) in cases[i].inputs.enumerated() { result["x\(k)"] = random.tensor([3] + dims, low: -3, high: 3) }
    result["x0"]?.data[1] = .nan
    return result
  }

  static func reference(_ i: Int, _ inputs: [String: Tensor]) throws -> Tensor {
    try ReferenceOps.concat(cases[i].inputs.indices.map { try inputs.named("x\($0)") })
  }

  @Test(arguments: cases.indices)
  func matchesTheInterpreterAtBatchThreeAndOne(_ i: Int) throws {
    let bench = try Self.bench.get()
    try expectKernel(bench, bench.kernel(at: i), inputs: Self.inputs(i), Self.cases[i].testDescription) {
      try Self.reference(i, $0)
    }
  }

  @Test(arguments: cases.indices)
  func copiesBitsExactlyWithOneOrTwoThreadsAndWithoutOpenMP(_ i: Int) throws {
    let (bench, serial) = (try Self.bench.get(), try Self.serialBench.get())
    let inputs = Self.inputs(i)
    let args = inputs.mapValues(\.data)
    try expectThreadCountIndependent(bench, bench.kernel(at: i), n: 3, args)
    let expected = try Self.reference(i, inputs).data
    #expect(bitPatterns(try bench.run(bench.kernel(at: i), n: 3, args)["y"] ?? []) == bitPatterns(expected))
    #expect(bitPatterns(try serial.run(serial.kernel(at: i), n: 3, args)["y"] ?? []) == bitPatterns(expected))
  }

  @Test func inputsMustAgreeExceptInTheChannels() {
    #expect(throws: KernelShapeError.self) {
      try ConcatKernel.make(name: "k_c", inputs: [TensorType(.f32, [3, 2, 2])])
    }
    #expect(throws: KernelShapeError.self) {
      try ConcatKernel.make(name: "k_c", inputs: [TensorType(.f32, [3, 2, 2]), TensorType(.f32, [3, 2, 3])])
    }
    #expect(throws: KernelShapeError.self) {
      try ConcatKernel.make(name: "k_c", inputs: [TensorType(.f32, [3, 4]), TensorType(.f32, [12])])
    }
  }

  @Test func parametersAreTheInputsInOrderThenTheOutput() throws {
    let k = try ConcatKernel.make(name: "k_c", inputs: [TensorType(.f32, [2, 3]), TensorType(.f32, [5, 3])])
    #expect(k.parameters.map(\.name) == ["x0", "x1", "y"])
    #expect(k.parameters.map(\.floats) == [6, 15, 21])
    #expect(k.parameters.map(\.role) == [.input, .input, .output])
  }
}
