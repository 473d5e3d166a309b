// The max, average and global-average pooling kernels against the interpreter, and the course's pooling example.
import KilnCodegenC
import KilnHarness
import KilnIR
import KilnReference
import KilnTestSupport
import Testing

@Suite struct PoolTests {
  struct Case: Sendable, CustomTestStringConvertible {
    /// nil: global average pool.
    var pool: Pool?
    var max: Bool
    var dims: [Int]
    /// Flat indices (in the batch-3 input) set to NaN.
    var nanAt: [Int] = []
    var testDescription: String {
      guard let pool else { return "global_avgpool \(dims)" }
      return "\(max ? "max" : "avg") k\(pool.kernel) s\(pool.stride) p\(pool.padding) \(pool.rounding.rawValue)"
        + "\(pool.countIncludePad ? "" : " exclude-pad") \(dims)\(nanAt.isEmpty ? "" : " NaN")"
    }
    var name: String { "k_\(max ? "max" : "avg")" }
  }

  static let cases: [Case] = [
    // The course's example: 2×2 stride 2 over 4×4.
    Case(pool: Pool(kernel: Pair(2)), max: true, dims: [1, 4, 4]),
    // Overlapping windows (stride < kernel) with padding, odd sizes.
    Case(
      pool: Pool(kernel: Pair(3), stride: Pair(2), padding: .explicit(Pads(1)), rounding: .floor), max: true,
      dims: [3, 5, 7]),
    Case(pool: Pool(kernel: Pair(2), rounding: .ceil), max: true, dims: [2, 5, 7]),
    Case(
      pool: Pool(
        kernel: Pair(3, 2), stride: Pair(1, 2), padding: .explicit(Pads(top: 1, left: 0, bottom: 2, right: 1)),
        rounding: .floor), max: true, dims: [4, 6, 5]),
    Case(pool: Pool(kernel: Pair(3), stride: Pair(2), padding: .same), max: true, dims: [2, 5, 7]),
    Case(pool: Pool(kernel: Pair(2), stride: Pair(1)), max: true, dims: [2, 4, 5], nanAt: [3, 25, 47]),
    // Unpadded windows inside the plane take the unrolled select loop: AlexNet's 3×3 stride 2, a 2×3 window
    // with a NaN, and two NaNs in one window (the later one is stored, as PyTorch scans).
    Case(pool: Pool(kernel: Pair(3), stride: Pair(2)), max: true, dims: [2, 7, 9], nanAt: [10, 11, 70]),
    Case(pool: Pool(kernel: Pair(2, 3), stride: Pair(2, 3)), max: true, dims: [3, 4, 9], nanAt: [0, 40]),
    Case(
      pool: Pool(kernel: Pair(3), stride: Pair(2), padding: .explicit(Pads(1)), rounding: .floor), max: false,
      dims: [3, 5, 7]),
    Case(
      pool: Pool(
        kernel: Pair(3), stride: Pair(2), padding: .explicit(Pads(1)), rounding: .floor, countIncludePad: false),
      max: false, dims: [3, 5, 7]),
    // Ceil mode with padding: the last window overhangs the padded input; PyTorch's divisor leaves the overhang out.
    Case(pool: Pool(kernel: Pair(2), padding: .explicit(Pads(1)), rounding: .ceil), max: false, dims: [2, 5, 7]),
    Case(
      pool: Pool(kernel: Pair(2), padding: .explicit(Pads(1)), rounding: .ceil, countIncludePad: false), max: false,
      dims: [2, 5, 7]),
    Case(
      pool: Pool(
        kernel: Pair(3, 2), stride: Pair(1), padding: .explicit(Pads(top: 0, left: 1, bottom: 1, right: 0)),
        rounding: .floor), max: false, dims: [1, 5, 4]),
    Case(pool: Pool(kernel: Pair(2), stride: Pair(1)), max: false, dims: [2, 4, 5], nanAt: [7]),
    // Above the parallel threshold (C·OH·OW·KH·KW ≥ 2^15 per sample).
    Case(
      pool: Pool(kernel: Pair(3), stride: Pair(2), padding: .explicit(Pads(1)), rounding: .ceil), max: true,
      dims: [16, 32, 33]),
    Case(
      pool: Pool(kernel: Pair(3), stride: Pair(2), padding: .explicit(Pads(1)), rounding: .ceil), max: false,
      dims: [16, 32, 33]),
    Case(pool: nil, max: false, dims: [3, 5, 7]),
    Case(pool: nil, max: false, dims: [1, 1, 1]),
    Case(pool: nil, max: false, dims: [4, 3, 3], nanAt: [10]),
    Case(pool: nil, max: false, dims: [64, 16, 17]),
  ]

  static func kernels() throws -> [KernelFunction] {
    try cases.enumerated().map { i, c in
      let input = TensorType(.f32, c.dims)
      guard let pool = c.pool else { return try GlobalAvgPoolKernel.make(name: "k\(i)_gap", input: input) }
      return try PoolKernel.make(name: "k\(i)_\(c.max ? "max" : "avg")", max: c.max, pool: pool, input: input)
    }
  }

  static let bench = Result { try KernelBench(kernels()) }
  static let serialBench = Result {
    try KernelBench(kernels(), options: BuildOptions(openMP: false, warningsAsErrors: true))
  }

  static func reference(_ c: Case, _ x: Tensor) throws -> Tensor {
    guard let pool = c.pool else { return try ReferenceOps.globalAvgPool(x) }
    return try c.max ? ReferenceOps.maxPool(x, pool) : ReferenceOps.avgPool(x, pool)
  }

  static func input(_ i: Int) -> Tensor {
    var random = SeededRandom(seed: UInt64(100 + i))
    var x = random.tensor([3] + cases[i].dims, low: -3, high: 3)
    for k in cases[i].nanAt { x.data[k] = .nan }
    return x
  }

  @Test(arguments: cases.indices)
  func matchesTheInterpreterAtBatchThreeAndOne(_ i: Int) throws {
    let bench = try Self.bench.get()
    let kernel = try bench.kernel(at: i)
    try expectKernel(bench, kernel, inputs: ["x": Self.input(i)], Self.cases[i].testDescription) {
      try Self.reference(Self.cases[i], $0.named("x"))
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

  @Test func theCoursesMaxPoolExample() throws {
    let bench = try Self.bench.get()
    let x: [Float] = [1, 1, 2, 4, 5, 6, 7, 8, 3, 2, 1, 0, 1, 2, 3, 4]
    let y = try bench.run(bench.kernel(at: 0), n: 1, ["x": x])
    #expect(y["y"] == [6, 8, 3, 4])
  }

  @Test func windowsInThePaddingOrThatDoNotFitAreErrors() {
    let input = TensorType(.f32, [2, 5, 7])
    #expect(throws: KernelShapeError.self) {
      try PoolKernel.make(name: "k_exact", max: true, pool: Pool(kernel: Pair(2)), input: input)
    }
    #expect(throws: KernelShapeError.self) {
      try PoolKernel.make(
        name: "k_pad", max: false, pool: Pool(kernel: Pair(2), padding: .explicit(Pads(2))), input: input)
    }
    #expect(throws: KernelShapeError.self) {
      try PoolKernel.make(name: "k_stride", max: true, pool: Pool(kernel: Pair(2), stride: Pair(0)), input: input)
    }
    #expect(throws: KernelShapeError.self) {
      try PoolKernel.make(name: "k_rank", max: true, pool: Pool(kernel: Pair(2)), input: TensorType(.f32, [4, 4]))
    }
    #expect(throws: KernelShapeError.self) {
      try GlobalAvgPoolKernel.make(name: "k_gap", input: TensorType(.f32, [3, 0, 2]))
    }
  }
}

// MARK: - Helpers shared by the pooling, normalization, activation and concat kernel tests

/// Float bit patterns, so that a NaN equals the same NaN.
func bitPatterns(_ values: [Float]) -> [UInt32] { values.map(\.bitPattern) }

extension [String: Tensor] {
  /// The tensor called `name`, or a recorded failure.
  func named(_ name: String) throws -> Tensor { try #require(self[name], "no tensor '\(name)'") }
}

extension KernelBench {
  /// The kernel whose name starts with `k<index>_`.
  func kernel(at index: Int) throws -> KernelFunction {
    try #require(kernels.values.first { $0.name.hasPrefix("k\(index)_") }, "no kernel k\(index)_…")
  }
}

/// Runs `kernel` on the batched `inputs` (all with one batch N) and again on their first sample only, with
/// the same compiled code; expects each output `y` to match `reference` of the same inputs within `rtol`,
/// and sample 0 to be bit-identical between the two runs.
func expectKernel(
  _ bench: KernelBench, _ kernel: KernelFunction, inputs: [String: Tensor], parameters: [String: [Float]] = [:],
  rtol: Double = 1e-4, _ what: String, sourceLocation: Testing.SourceLocation = #_sourceLocation,
  reference: ([String: Tensor]) throws -> Tensor
) throws {
  let n = try #require(inputs.values.first?.shape.first, sourceLocation: sourceLocation)
  var firstSample: [[Float]] = []
  for batch in [n, 1] {
    let sliced = inputs.mapValues { t in
      Tensor(shape: [batch] + t.shape.dropFirst(), data: Array(t.data.prefix(t.count / n * batch)))
    }
    let expected = try reference(sliced)
    var arguments = parameters
    for (name, t) in sliced { arguments[name] = t.data }
    let y = try bench.run(kernel, n: batch, arguments)["y"] ?? []
    try #require(
      y.count == expected.count, "\(what): \(y.count) outputs, expected \(expected.count)",
      sourceLocation: sourceLocation)
    expectClose(
      Tensor(shape: expected.shape, data: y), expected, rtol: rtol, "\(what) n=\(batch)", sourceLocation: sourceLocation
    )
    firstSample.append(Array(y.prefix(expected.count / batch)))
  }
  #expect(
    bitPatterns(firstSample[0]) == bitPatterns(firstSample[1]), "\(what): sample 0 differs between n=\(n) and n=1",
    sourceLocation: sourceLocation)
}

/// Runs `kernel` with one and with two OpenMP threads and expects bit-identical outputs.
func expectThreadCountIndependent(
  _ bench: KernelBench, _ kernel: KernelFunction, n: Int, _ arguments: [String: [Float]],
  sourceLocation: Testing.SourceLocation = #_sourceLocation
) throws {
  try bench.setThreads(1)
  let one = try bench.run(kernel, n: n, arguments)["y"] ?? []
  try bench.setThreads(2)
  let two = try bench.run(kernel, n: n, arguments)["y"] ?? []
  #expect(!one.isEmpty, sourceLocation: sourceLocation)
  #expect(
    bitPatterns(one) == bitPatterns(two), "\(kernel.name): 1 and 2 threads differ", sourceLocation: sourceLocation)
}
