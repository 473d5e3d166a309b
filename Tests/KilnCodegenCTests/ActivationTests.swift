// The elementwise activation kernel and the softmax / log-softmax kernel against the interpreter.
import Foundation
import KilnCodegenC
import KilnHarness
import KilnIR
import KilnReference
import KilnTestSupport
import Testing

@Suite struct ActivationTests {
  struct Case: Sendable, CustomTestStringConvertible {
    /// An elementwise activation, or softmax / log_softmax (built by `SoftmaxKernel`).
    var activation: Activation
    var dims: [Int]
    /// Inputs are uniform in ±`range`.
    var range: Float = 4
    /// Flat indices (in the batch-3 input) set to NaN.
    var nanAt: [Int] = []
    var testDescription: String { "\(activation) \(dims) ±\(range)\(nanAt.isEmpty ? "" : " NaN")" }
  }

  static let cases: [Case] = [
    Case(activation: .identity, dims: [5]),
    Case(activation: .relu, dims: [3, 5, 7], nanAt: [2, 17]),
    Case(activation: .relu6, dims: [37], range: 9),
    Case(activation: .leakyRelu(alpha: 0.01), dims: [2, 3], nanAt: [1]),
    Case(activation: .elu(alpha: 1.5), dims: [11], nanAt: [0]),
    Case(activation: .sigmoid, dims: [4, 5], range: 100, nanAt: [9]),
    Case(activation: .tanh, dims: [13], range: 30),
    // Above the parallel threshold (2^15 values per batch of 3).
    Case(activation: .sigmoid, dims: [16, 32, 32]),
    Case(activation: .softmax, dims: [10]),
    Case(activation: .logSoftmax, dims: [10]),
    Case(activation: .softmax, dims: [1]),
    Case(activation: .logSoftmax, dims: [1]),
    // Over the channels of every position: the channel values of one position sit H·W apart.
    Case(activation: .softmax, dims: [3, 5, 7]),
    Case(activation: .logSoftmax, dims: [4, 3, 5]),
    // ±1000: e^1000 overflows float and double alike; the maximum shift keeps everything finite.
    Case(activation: .softmax, dims: [7], range: 1000),
    Case(activation: .logSoftmax, dims: [7], range: 1000),
    Case(activation: .softmax, dims: [6, 2, 2], range: 1000),
    // A NaN makes its whole lane NaN and leaves the others alone.
    Case(activation: .softmax, dims: [5, 2, 3], nanAt: [7]),
    Case(activation: .logSoftmax, dims: [9], nanAt: [12]),
    Case(activation: .softmax, dims: [64, 32, 32]),
  ]

  static func kernels() throws -> [KernelFunction] {
    try cases.enumerated().map { i, c in
      let input = TensorType(.f32, c.dims)
      switch c.activation {
      case .softmax, .logSoftmax:
        return try SoftmaxKernel.make(name: "k\(i)_softmax", log: c.activation == .logSoftmax, input: input)
      default:
        return try ActivationKernel.make(name: "k\(i)_act", activation: c.activation, perSample: input.elementCount)
      }
    }
  }

  static let bench = Result { try KernelBench(kernels()) }
  static let serialBench = Result {
    try KernelBench(kernels(), options: BuildOptions(openMP: false, warningsAsErrors: true))
  }

  static func input(_ i: Int) -> Tensor {
    var random = SeededRandom(seed: UInt64(400 + i))
    let c = cases[i]
    var x = random.tensor([3] + c.dims, low: -c.range, high: c.range)
    for k in c.nanAt { x.data[k] = .nan }
    return x
  }

  @Test(arguments: cases.indices)
  func matchesTheInterpreterAtBatchThreeAndOne(_ i: Int) throws {
    let c = Self.cases[i]
    let bench = try Self.bench.get()
    try expectKernel(bench, bench.kernel(at: i), inputs: ["x": Self.input(i)], c.testDescription) {
      try ReferenceOps.activation($0.named("x"), c.activation)
    }
  }

  @Test(arguments: cases.indices.filter { !cases[$0].activation.isElementwise && cases[$0].nanAt.isEmpty })
  func softmaxIsFiniteAndNormalized(_ i: Int) throws {
    let c = Self.cases[i]
    let bench = try Self.bench.get()
    let y = try bench.run(bench.kernel(at: i), n: 3, ["x": Self.input(i).data])["y"] ?? []
    #expect(y.count == 3 * c.dims.reduce(1, *) && y.allSatisfy(\.isFinite), "\(c.testDescription): non-finite output")
    // Every lane (sample, position) sums to 1 in probability.
    let inner = c.dims.dropFirst().reduce(1, *)
    for s in 0..<3 {
      for e in 0..<inner {
        let lane = (0..<c.dims[0]).map { y[(s * c.dims[0] + $0) * inner + e] }
        let total = lane.reduce(0.0) { $0 + (c.activation == .logSoftmax ? exp(Double($1)) : Double($1)) }
        #expect(abs(total - 1) < 1e-5, "\(c.testDescription): lane (\(s), \(e)) sums to \(total)")
      }
    }
  }

  @Test(arguments: cases.indices)
  func oneAndTwoThreadsGiveIdenticalBits(_ i: Int) throws {
    let bench = try Self.bench.get()
    try expectThreadCountIndependent(bench, bench.kernel(at: i), n: 3, ["x": Self.input(i).data])
  }

  @Test(arguments: cases.indices)
  func buildWithoutOpenMPGivesIdenticalBits(_ i: Int) throws {
    let (bench, serial) = (try Self.bench.get(), try Self.serialBench.get())
    let args = ["x": Self.input(i).data]
    let parallel = try bench.run(bench.kernel(at: i), n: 3, args)["y"] ?? []
    let sequential = try serial.run(serial.kernel(at: i), n: 3, args)["y"] ?? []
    #expect(bitPatterns(parallel) == bitPatterns(sequential))
  }

  @Test func softmaxIsNotElementwiseAndEmptyInputsAreErrors() {
    #expect(throws: KernelShapeError.self) {
      try ActivationKernel.make(name: "k_act", activation: .softmax, perSample: 4)
    }
    #expect(throws: KernelShapeError.self) { try ActivationKernel.make(name: "k_act", activation: .relu, perSample: 0) }
    #expect(throws: KernelShapeError.self) {
      try SoftmaxKernel.make(name: "k_sm", log: false, input: TensorType(.f32, []))
    }
  }
}
