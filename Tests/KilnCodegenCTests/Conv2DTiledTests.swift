// The tiled convolution loops (conv2d_tiled) against the interpreter: every tile shape (pairs and triples of
// row vectors, pairs of rows), filter tails, channel blocks, overlapping last tiles, dilation, groups, epilogues,
// and the transposed form computing the input gradient of a stride-1 conv.
import KilnCodegenC
import KilnHarness
import KilnIR
import KilnReference
import KilnTestSupport
import Testing

@Suite struct Conv2DTiledTests {
  static func conv(
    _ filters: Int, _ kernel: Pair, stride: Pair = Pair(1), padding: Int, dilation: Int = 1, groups: Int = 1,
    bias: Bool = true, activation: Activation = .identity
  ) -> Conv2D {
    Conv2D(
      filters: filters, kernel: kernel, stride: stride, padding: .explicit(Pads(padding)), dilation: Pair(dilation),
      groups: groups, bias: bias, activation: activation, rounding: .floor)
  }

  /// Each case names the tiling it reaches (rows × vectors per tile, filters per tile + tail, channel block).
  static let cases: [Conv2DTests.Case] = [
    // 12 wide: 2 row vectors (the second overlapping) in one tile; 9 filters = 4 + 4 + a tail of 1.
    .init(conv: conv(9, Pair(3), padding: 1, activation: .relu), input: [3, 12, 12]),
    // 16 wide, 40 channels: 2 blocks of 20 channels, partial sums through y; no bias, leaky ReLU.
    .init(conv: conv(8, Pair(3), padding: 1, bias: false, activation: .leakyRelu(alpha: 0.1)), input: [40, 8, 16]),
    // 22 wide: a triple of vectors, the last overlapping; 10 filters = 4 + 4 + 2.
    .init(conv: conv(10, Pair(3), padding: 0), input: [4, 9, 24]),
    // 40 wide (5 vectors: tiles of 2 rows × 1 vector) on 7 rows (the last tile overlaps): one channel block of 48.
    .init(conv: conv(8, Pair(3), padding: 1), input: [48, 7, 40]),
    // 32 wide: pairs of vectors, 6 filters per tile + a tail of 1; 64 channels in 2 blocks of 32.
    .init(conv: conv(13, Pair(3), padding: 1, activation: .tanh), input: [64, 4, 32]),
    // 28 wide: pairs of vectors, the last pair overlapping its neighbour, so one channel block of 36.
    .init(conv: conv(8, Pair(5), padding: 2), input: [36, 6, 28]),
    // 8 wide, 8 rows: pairs of rows; 33 channels in 3 blocks of 11 (a 1×1 kernel padded by 1: the planes copied).
    .init(conv: conv(20, Pair(1), padding: 1), input: [33, 6, 6]),
    // Dilation 2 with 2 groups of 4 channels (8 filters each), 14 wide.
    .init(conv: conv(16, Pair(3), padding: 2, dilation: 2, groups: 2, activation: .sigmoid), input: [8, 10, 14]),
    // A 5×3 window on 20-wide rows (a triple of vectors); 9 filters.
    .init(conv: conv(9, Pair(5, 3), padding: 1), input: [5, 9, 20]),
    // Stride 2 (two column phases), as ResNet's downsampling convs: 3×3 on 17×16 (8×8 out, pairs of rows), the
    // 1×1 projection, and 5×5 with dilation 2 on an odd width.
    .init(conv: conv(16, Pair(3), stride: Pair(2), padding: 1, activation: .relu), input: [12, 17, 16]),
    .init(conv: conv(12, Pair(1), stride: Pair(2), padding: 0), input: [40, 16, 32]),
    .init(conv: conv(8, Pair(5), stride: Pair(2), padding: 3, dilation: 2), input: [3, 19, 31]),
    // Stride 3 × 2 on 36 channels in blocks of 18 (rows of 3 vectors).
    .init(conv: conv(10, Pair(3), stride: Pair(3, 2), padding: 1), input: [36, 14, 47]),
  ]

  static let kernels = Conv2DTests.kernels(cases, blas: true, threadSlots: 2, prefix: "t", tiled: true)
  static let bench = Result { try KernelBench.singleThreadedBLAS(kernels + inputGradientKernels) }

  @Test func everyCaseTakesTheTiledLoops() {
    for kernel in Self.kernels {
      #expect(kernel.template == "conv2d_tiled" && !kernel.usesBLAS, "\(kernel.name): \(kernel.template)")
      #expect(kernel.parameters.last?.role == .scratch, "\(kernel.name): packed weights and planes in scratch")
    }
  }

  /// Each kernel at batch 5 on 1 and 2 threads (2 slots: several images per slot; the same bits), then batch 1.
  @Test(arguments: cases.indices)
  func matchesTheInterpreter(_ i: Int) throws {
    let bench = try Self.bench.get()
    let kernel = try #require(bench.kernels[Conv2DTests.name(i, blas: true, prefix: "t")])
    try bench.setThreads(1)
    let one = try Conv2DTests.check(Self.cases[i], kernel: kernel, n: 5, on: bench, seed: UInt64(i))
    try bench.setThreads(2)
    let two = try Conv2DTests.check(Self.cases[i], kernel: kernel, n: 5, on: bench, seed: UInt64(i))
    #expect(one == two, "\(kernel.name): 1 and 2 threads differ")
    try Conv2DTests.check(Self.cases[i], kernel: kernel, n: 1, on: bench, seed: UInt64(i + 100))
  }

  /// A fused residual epilogue (conv + bias, add r1, ReLU), as ResNet's second conv of a block.
  @Test func appliesAResidualEpilogue() throws {
    var conv = Self.conv(16, Pair(3), padding: 1)
    conv.epilogue = [.add, .activation(.relu)]
    let kernel = Conv2DKernel.make(
      name: "t_residual", layer: "c", conv: conv, input: TensorType(.f32, [16, 16, 16]),
      options: KernelOptions(winogradConvolutions: false))
    #expect(kernel.template == "conv2d_tiled")
    let bench = try KernelBench.singleThreadedBLAS([kernel])
    var random = SeededRandom(seed: 7)
    let n = 3
    let x = random.tensor([n, 16, 16, 16], low: -2, high: 2)
    let w = random.tensor([16, 16, 3, 3], low: -1, high: 1)
    let b = random.tensor([16], low: -1, high: 1)
    let r = random.tensor([n, 16, 16, 16], low: -3, high: 3)
    let y = try bench.run(kernel, n: n, ["x": x.data, "weight": w.data, "bias": b.data, "r1": r.data])["y"] ?? []
    var plain = conv
    plain.epilogue = []
    let v = try ReferenceOps.conv2d(x, weight: w, bias: b, plain)
    let expected = Tensor(shape: v.shape, data: zip(v.data, r.data).map { max($0 + $1, 0) })
    // The sums' bound, plus the roundings of the add in the kernel and in `expected`: a sum of 144 products
    // here has σ ≈ 8, so |v + r| < 64 by far and each rounding is at most 64·2⁻²⁴ ≈ 4e-6.
    expectClose(
      Tensor(shape: v.shape, data: y), expected, atol: accumulationTolerance(depth: 144, xMax: 2, wMax: 1) + 1e-5,
      "residual epilogue")
  }

  // MARK: Input gradients

  /// Stride-1 convs whose input gradient (dy padded by (k − 1)·d − pad, flipped weights) the tiled loops take.
  static let gradientCases: [Conv2DTests.Case] = [
    .init(conv: conv(16, Pair(3), padding: 1), input: [12, 8, 16]),
    .init(conv: conv(6, Pair(3), padding: 1, groups: 2), input: [16, 10, 24]),
    .init(conv: conv(40, Pair(3), padding: 1, bias: false), input: [8, 6, 8]),
    .init(conv: conv(8, Pair(3), padding: 2, dilation: 2), input: [8, 9, 12]),
  ]

  static let inputGradientKernels: [KernelFunction] = gradientCases.enumerated().map { i, c in
    try! Conv2DGradientKernel.make(
      name: "t\(i)_dx", layer: "c\(i)", conv: c.conv, input: TensorType(.f32, c.input), target: .input(0),
      options: KernelOptions(threadSlots: 2, winogradConvolutions: false))
  }

  @Test(arguments: gradientCases.indices)
  func inputGradientMatchesTheReference(_ i: Int) throws {
    let c = Self.gradientCases[i]
    let bench = try Self.bench.get()
    let kernel = try #require(bench.kernels["t\(i)_dx"])
    #expect(kernel.template == "conv2d_tiled")
    var results: [[Float]] = []
    for (threads, n) in [(1, 5), (2, 5), (1, 1)] {
      try bench.setThreads(threads)
      var random = SeededRandom(seed: UInt64(10 + i))
      let x = random.tensor([n] + c.input, low: -2, high: 2)
      let w = random.tensor(
        [c.conv.filters, c.input[0] / c.conv.groups, c.conv.kernel.h, c.conv.kernel.w], low: -1, high: 1)
      let y = try ReferenceOps.conv2d(x, weight: w, bias: nil, c.conv)
      let dy = random.tensor(y.shape, low: -1, high: 1)
      let expected = try ReferenceGradients.conv2d(dy: dy, x: x, weight: w, bias: nil, c.conv).dx
      let dx = try bench.run(kernel, n: n, ["dy": dy.data, "weight": w.data])["dx"] ?? []
      let taps = c.conv.filters / c.conv.groups * c.conv.kernel.h * c.conv.kernel.w
      expectClose(
        Tensor(shape: expected.shape, data: dx), expected, atol: accumulationTolerance(depth: taps, xMax: 1, wMax: 1),
        "\(kernel.name) at n=\(n), \(threads) thread(s)")
      results.append(dx)
    }
    #expect(results[0] == results[1], "t\(i)_dx: 1 and 2 threads differ")
  }
}
