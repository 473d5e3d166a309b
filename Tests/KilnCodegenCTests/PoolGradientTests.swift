// The max, average and global-average pooling gradient kernels against ReferenceGradients.
import KilnCodegenC
import KilnHarness
import KilnIR
import KilnReference
import KilnTestSupport
import Testing

@Suite struct PoolGradientTests {
  struct Case: Sendable, CustomTestStringConvertible {
    /// nil: global average pool.
    var pool: Pool?
    var max: Bool
    var dims: [Int]
    /// Round x to multiples of 0.5, so windows hold ties and the first-maximum rule decides.
    var ties = false
    /// Flat indices (in the batch-8 input) set to NaN.
    var nanAt: [Int] = []
    var testDescription: String {
      guard let pool else { return "global_avgpool \(dims)" }
      return "\(max ? "max" : "avg") k\(pool.kernel) s\(pool.stride) p\(pool.padding) \(pool.rounding.rawValue)"
        + "\(pool.countIncludePad ? "" : " exclude-pad") \(dims)\(ties ? " ties" : "")\(nanAt.isEmpty ? "" : " NaN")"
    }
  }

  static let overlapping = Pool(kernel: Pair(3), stride: Pair(2), padding: .explicit(Pads(1)), rounding: .floor)
  static let asymmetric = Pool(
    kernel: Pair(3, 2), stride: Pair(1, 2), padding: .explicit(Pads(top: 1, left: 0, bottom: 2, right: 1)),
    rounding: .floor)

  static let cases: [Case] = [
    // LeNet's 2×2 stride 2: every cell in exactly one window.
    Case(pool: Pool(kernel: Pair(2)), max: true, dims: [6, 28, 28]),
    Case(pool: Pool(kernel: Pair(2)), max: true, dims: [2, 4, 4], ties: true),
    // Tiling windows take the unrolled select loop: ties, NaNs (two in one window: the later one wins), and a
    // 3×3 window.
    Case(pool: Pool(kernel: Pair(2)), max: true, dims: [2, 4, 6], ties: true, nanAt: [1, 8, 9, 30]),
    Case(pool: Pool(kernel: Pair(3)), max: true, dims: [2, 6, 9], ties: true),
    Case(pool: overlapping, max: true, dims: [3, 5, 7]),
    Case(pool: overlapping, max: true, dims: [3, 6, 6], ties: true),
    Case(pool: Pool(kernel: Pair(2), rounding: .ceil), max: true, dims: [2, 5, 7]),
    Case(pool: asymmetric, max: true, dims: [4, 6, 5]),
    Case(pool: Pool(kernel: Pair(3), stride: Pair(2), padding: .same), max: true, dims: [2, 5, 7]),
    Case(pool: Pool(kernel: Pair(2), stride: Pair(1)), max: true, dims: [2, 4, 5], nanAt: [3, 25, 47, 48]),
    Case(pool: Pool(kernel: Pair(2)), max: false, dims: [6, 28, 28]),
    Case(pool: overlapping, max: false, dims: [3, 5, 7]),
    Case(
      pool: Pool(
        kernel: Pair(3), stride: Pair(2), padding: .explicit(Pads(1)), rounding: .floor, countIncludePad: false),
      max: false, dims: [3, 5, 7]),
    // Ceil mode with padding: the last window overhangs the padded input; the divisor leaves the overhang out.
    Case(pool: Pool(kernel: Pair(2), padding: .explicit(Pads(1)), rounding: .ceil), max: false, dims: [2, 5, 7]),
    Case(
      pool: Pool(kernel: Pair(2), padding: .explicit(Pads(1)), rounding: .ceil, countIncludePad: false), max: false,
      dims: [2, 5, 7]),
    Case(pool: asymmetric, max: false, dims: [1, 5, 4]),
    Case(
      pool: Pool(kernel: Pair(3), stride: Pair(1), padding: .same, countIncludePad: false), max: false, dims: [2, 6, 5]),
    Case(pool: nil, max: false, dims: [3, 5, 7]),
    Case(pool: nil, max: false, dims: [1, 1, 1]),
    Case(pool: nil, max: false, dims: [64, 4, 4]),
  ]

  static func name(_ i: Int) -> String { "k\(i)_pool_grad" }

  /// The forward output dims of case `c`.
  static func outputDims(_ c: Case) throws -> [Int] {
    let probe = Tensor(zeros: [1] + c.dims)
    guard let pool = c.pool else { return Array(try ReferenceOps.globalAvgPool(probe).shape.dropFirst()) }
    return Array(try (c.max ? ReferenceOps.maxPool(probe, pool) : ReferenceOps.avgPool(probe, pool)).shape.dropFirst())
  }

  /// The course's example: 2×2 stride 2 over one 4×4 channel.
  static func courseKernel() throws -> KernelFunction {
    try gradientKernel(
      "k_course", .maxPool(Pool(kernel: Pair(2))), inputs: [[1, 4, 4]], output: [1, 2, 2],
      operands: [.outputGradient, .forwardInput(0)])
  }

  static func kernels() throws -> [KernelFunction] {
    try [courseKernel()]
      + cases.enumerated().map { i, c in
        let out = try outputDims(c)
        guard let pool = c.pool else {
          return try gradientKernel(name(i), .globalAvgPool, inputs: [c.dims], output: out, operands: [.outputGradient])
        }
        if c.max {
          return try gradientKernel(
            name(i), .maxPool(pool), inputs: [c.dims], output: out, operands: [.outputGradient, .forwardInput(0)])
        }
        return try gradientKernel(name(i), .avgPool(pool), inputs: [c.dims], output: out, operands: [.outputGradient])
      }
  }

  static let bench = Result { try KernelBench(kernels()) }

  /// x and dy of case `i` at batch `n`.
  static func inputs(_ i: Int, n: Int) throws -> (x: Tensor, dy: Tensor) {
    let c = cases[i]
    var x = randomTensor(n, c.dims, seed: UInt64(500 + i))
    if c.ties { x.data = x.data.map { ($0 * 2).rounded() / 2 } }
    for k in c.nanAt where k < x.count { x.data[k] = .nan }
    return (x, randomTensor(n, try outputDims(c), seed: UInt64(600 + i), low: -1, high: 1))
  }

  static func reference(_ c: Case, x: Tensor, dy: Tensor) throws -> Tensor {
    guard let pool = c.pool else { return try ReferenceGradients.globalAvgPool(dy: dy, inputShape: x.shape) }
    return try c.max
      ? ReferenceGradients.maxPool(dy: dy, x: x, pool) : ReferenceGradients.avgPool(dy: dy, inputShape: x.shape, pool)
  }

  static func arguments(_ c: Case, x: Tensor, dy: Tensor) -> [String: [Float]] {
    c.max ? ["dy": dy.data, "x": x.data] : ["dy": dy.data]
  }

  @Test(arguments: cases.indices)
  func matchesTheReference(_ i: Int) throws {
    let c = Self.cases[i]
    let bench = try Self.bench.get()
    let kernel = try bench.kernel(named: Self.name(i))
    for n in trainingBatches {
      let (x, dy) = try Self.inputs(i, n: n)
      let dx = try bench.output(kernel, n: n, Self.arguments(c, x: x, dy: dy))
      expectClose(Tensor(shape: x.shape, data: dx), try Self.reference(c, x: x, dy: dy), "\(c.testDescription) n=\(n)")
    }
  }

  @Test(arguments: cases.indices)
  func oneAndTwoThreadsGiveIdenticalBits(_ i: Int) throws {
    let bench = try Self.bench.get()
    let (x, dy) = try Self.inputs(i, n: 8)
    try expectSameBitsOnOneAndTwoThreads(
      bench, bench.kernel(named: Self.name(i)), n: 8, Self.arguments(Self.cases[i], x: x, dy: dy))
  }

  /// The course's 2×2 example: each window's gradient lands on its maximum, the first one on a tie.
  @Test func maxPoolGradientGoesToTheFirstMaximum() throws {
    let bench = try Self.bench.get()
    let x: [Float] = [1, 1, 2, 4, 5, 6, 7, 8, 3, 2, 1, 0, 1, 2, 3, 4]
    let dx = try bench.output(bench.kernel(named: "k_course"), n: 1, ["dy": [10, 20, 30, 40], "x": x])
    #expect(dx == [0, 0, 0, 0, 0, 10, 0, 20, 30, 0, 0, 0, 0, 0, 0, 40])
  }

  @Test func operandsOtherThanTheRulesAreErrors() {
    #expect(throws: KernelShapeError.self) {
      // Max pooling needs x: dy alone is not enough.
      try gradientKernel(
        "k_bad", .maxPool(Pool(kernel: Pair(2))), inputs: [[1, 4, 4]], output: [1, 2, 2], operands: [.outputGradient])
    }
    #expect(throws: KernelShapeError.self) {
      // dy of the wrong size.
      try gradientKernel(
        "k_bad", .avgPool(Pool(kernel: Pair(2))), inputs: [[1, 4, 4]], output: [1, 3, 3], operands: [.outputGradient])
    }
  }
}
