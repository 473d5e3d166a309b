// The Winograd convolution (conv2d_winograd, F(2×2, 3×3)) against the interpreter: tile vectors of one tile row
// (the last overlapping) and of two (4-tile rows), blocks of 2 and 4 vectors (the last block overlapping), filter
// tails of every size, paddings 0, 1, 2 and asymmetric, epilogues, and the transposed form computing the input
// gradient of a stride-1 conv.
import KilnCodegenC
import KilnHarness
import KilnIR
import KilnReference
import KilnTestSupport
import Testing

/// The error bound of a Winograd F(2×2, 3×3) sum over `channels` channels, by the reasoning of
/// `accumulationTolerance` (4 roundings of 2⁻²⁴ per term of the largest size a term can have): a transformed
/// input is a signed sum of 4 inputs (≤ 4·xMax), a transformed weight one of 9 taps with weights ½ or ¼
/// (≤ 2.25·wMax), so a product is ≤ 9·xMax·wMax; C of them are summed per position, and an output is the signed
/// sum of 9 positions. That is 81·C terms of at most xMax·wMax: 9 times the direct bound for the same 9·C taps.
func winogradTolerance(channels: Int, xMax: Double, wMax: Double) -> Double {
  9 * accumulationTolerance(depth: 9 * channels, xMax: xMax, wMax: wMax)
}

@Suite struct Conv2DWinogradTests {
  static func conv(_ filters: Int, padding: Pads, bias: Bool = true, activation: Activation = .identity) -> Conv2D {
    Conv2D(
      filters: filters, kernel: Pair(3), padding: .explicit(padding), bias: bias, activation: activation,
      rounding: .floor)
  }

  /// Each case names what it reaches: tiles across (TW) and down (TH), vectors per row, block size, filter tail.
  static let cases: [Conv2DTests.Case] = [
    // 16×16: TW 8, one vector per tile row, 8 vectors in blocks of 2; 16 filters = 6 + 6 + a tail of 4.
    .init(conv: conv(16, padding: Pads(1), activation: .relu), input: [16, 16, 16]),
    // 12×24: TW 12, two vectors per row (the second starts at tile 4, overlapping); 17 filters (tail 5); no bias.
    .init(conv: conv(17, padding: Pads(1), bias: false, activation: .leakyRelu(alpha: 0.1)), input: [20, 12, 24]),
    // 8×8: TW 4, vectors of two tile rows; 24 filters, no tail.
    .init(conv: conv(24, padding: Pads(1), activation: .tanh), input: [16, 8, 8]),
    // 16×8: TW 4, 4 vectors of row pairs in 2 blocks; 19 filters (tail 1).
    .init(conv: conv(19, padding: Pads(1)), input: [32, 16, 8]),
    // 64 channels: blocks of 4 vectors, 6 vectors so the second block starts at vector 2; 22 filters (tail 4).
    .init(conv: conv(22, padding: Pads(1), activation: .sigmoid), input: [64, 12, 16]),
    // No padding: 14×18 → 12×16; 16 filters.
    .init(conv: conv(16, padding: Pads(0)), input: [18, 14, 18]),
    // Padding 2: 10×16 → 12×18 (TW 9: the second vector of a row overlaps 7 tiles); 20 filters (tail 2).
    .init(conv: conv(20, padding: Pads(2)), input: [16, 10, 16]),
    // Asymmetric: top 2, left 0, bottom 0, right 2: 10×16 → 10×16; 21 filters (tail 3).
    .init(conv: conv(21, padding: Pads(top: 2, left: 0, bottom: 0, right: 2)), input: [16, 10, 16]),
    // 128 → 64 channels on 8×8 (4.7 M multiply-adds in one block): a single image is shared by the team.
    .init(conv: conv(64, padding: Pads(1), activation: .relu), input: [128, 8, 8]),
  ]

  static let kernels = Conv2DTests.kernels(cases, blas: true, threadSlots: 2, prefix: "w", tiled: true, winograd: true)
  static let bench = Result { try KernelBench.singleThreadedBLAS(kernels + inputGradientKernels + [residualKernel]) }

  /// Case 8 (4.7 M multiply-adds in one block: 1.2 M per step) shares a single image over the team; case 4
  /// (2.4 M in 2 blocks) and case 0 (0.6 M in 4) do not.
  @Test func sharesOnlyLargeSingleImages() {
    let shared = Self.kernels.map { $0.definition.contains("One image: the team shares it") }
    #expect(shared == Self.cases.indices.map { $0 == 8 })
  }

  @Test func everyCaseTakesWinograd() {
    for kernel in Self.kernels + Self.inputGradientKernels + [Self.residualKernel] {
      #expect(kernel.template == "conv2d_winograd" && !kernel.usesBLAS, "\(kernel.name): \(kernel.template)")
      #expect(kernel.parameters.last?.role == .scratch, "\(kernel.name): transformed weights and planes in scratch")
    }
  }

  /// Where Winograd does not apply, the tiled loops (or the others) keep the conv: fewer than 16 channels in or
  /// out, an odd output, stride 2, dilation 2, 2 groups, a 5×5 kernel, output rows of 2 or 6 tiles, and with
  /// `winogradConvolutions` off.
  @Test func appliesOnlyToItsShapes() {
    func template(_ conv: Conv2D, _ input: [Int], _ options: KernelOptions = KernelOptions()) -> String? {
      Conv2DKernel.template(conv: conv, input: TensorType(.f32, input), options: options)
    }
    #expect(template(Self.conv(16, padding: Pads(1)), [16, 16, 16]) == "conv2d_winograd")
    #expect(template(Self.conv(16, padding: Pads(1)), [15, 16, 16]) == "conv2d_tiled")
    #expect(template(Self.conv(15, padding: Pads(1)), [16, 16, 16]) == "conv2d_tiled")
    #expect(template(Self.conv(16, padding: Pads(1)), [16, 15, 16]) == "conv2d_tiled")
    #expect(template(Self.conv(16, padding: Pads(1)), [16, 12, 12]) == "conv2d_tiled")  // 6 tiles across
    #expect(template(Self.conv(16, padding: Pads(1)), [16, 4, 4]) != "conv2d_winograd")  // 2 tiles across
    var strided = Self.conv(16, padding: Pads(1))
    strided.stride = Pair(2)
    #expect(template(strided, [16, 32, 32]) == "conv2d_tiled")
    var dilated = Self.conv(16, padding: Pads(2))
    dilated.dilation = Pair(2)
    #expect(template(dilated, [16, 16, 16]) == "conv2d_tiled")
    var grouped = Self.conv(16, padding: Pads(1))
    grouped.groups = 2
    #expect(template(grouped, [32, 16, 16]) == "conv2d_tiled")
    var wide = Self.conv(16, padding: Pads(2))
    wide.kernel = Pair(5)
    #expect(template(wide, [16, 16, 16]) == "conv2d_tiled")
    #expect(template(Self.conv(16, padding: Pads(1)), [16, 16, 16], KernelOptions(winogradConvolutions: false))
      == "conv2d_tiled")
    #expect(template(Self.conv(16, padding: Pads(1)), [16, 16, 16], KernelOptions(blas: false)) == "conv2d_direct")
  }

  /// Each kernel at batch 5 on 1 and 2 threads (2 slots: several images per slot; the same bits), then batch 1
  /// on 1 and 2 threads (the team shares the one image; the same bits again).
  @Test(arguments: cases.indices)
  func matchesTheInterpreter(_ i: Int) throws {
    let bench = try Self.bench.get()
    let c = Self.cases[i]
    let kernel = try #require(bench.kernels[Conv2DTests.name(i, blas: true, prefix: "w")])
    var outputs: [[Float]] = []
    for (threads, n) in [(1, 5), (2, 5), (1, 1), (2, 1)] {
      try bench.setThreads(threads)
      var random = SeededRandom(seed: UInt64(40 + i))
      let x = random.tensor([n] + c.input, low: -2, high: 2)
      let w = random.tensor([c.conv.filters, c.input[0], 3, 3], low: -1, high: 1)
      let b = random.tensor([c.conv.filters], low: -1, high: 1)
      var arguments = ["x": x.data, "weight": w.data]
      if c.conv.bias { arguments["bias"] = b.data }
      let y = try bench.run(kernel, n: n, arguments)["y"] ?? []
      let expected = try ReferenceOps.conv2d(x, weight: w, bias: c.conv.bias ? b : nil, c.conv)
      expectClose(
        Tensor(shape: expected.shape, data: y), expected,
        atol: winogradTolerance(channels: c.input[0], xMax: 2, wMax: 1),
        "\(kernel.name) \(c.testDescription) at n=\(n), \(threads) thread(s)")
      outputs.append(y)
    }
    #expect(outputs[0] == outputs[1], "\(kernel.name): 1 and 2 threads differ")
    #expect(outputs[2] == outputs[3], "\(kernel.name): 1 and 2 threads differ at batch 1")
  }

  /// A fused residual epilogue (conv + bias, add r1, ReLU), as ResNet's second conv of a block.
  static let residualKernel: KernelFunction = {
    var conv = Self.conv(16, padding: Pads(1))
    conv.epilogue = [.add, .activation(.relu)]
    return Conv2DKernel.make(
      name: "w_residual", layer: "c", conv: conv, input: TensorType(.f32, [16, 16, 16]),
      options: KernelOptions(threadSlots: 2))
  }()

  @Test func appliesAResidualEpilogue() throws {
    let bench = try Self.bench.get()
    let kernel = try #require(bench.kernels["w_residual"])
    try bench.setThreads(1)
    var random = SeededRandom(seed: 8)
    let n = 3
    let x = random.tensor([n, 16, 16, 16], low: -2, high: 2)
    let w = random.tensor([16, 16, 3, 3], low: -1, high: 1)
    let b = random.tensor([16], low: -1, high: 1)
    let r = random.tensor([n, 16, 16, 16], low: -3, high: 3)
    let y = try bench.run(kernel, n: n, ["x": x.data, "weight": w.data, "bias": b.data, "r1": r.data])["y"] ?? []
    let v = try ReferenceOps.conv2d(x, weight: w, bias: b, Self.conv(16, padding: Pads(1)))
    let expected = Tensor(shape: v.shape, data: zip(v.data, r.data).map { max($0 + $1, 0) })
    // The sums' bound, plus the roundings of the add in the kernel and in `expected` (|v + r| < 64 by far here:
    // each rounding is at most 64·2⁻²⁴ ≈ 4e-6).
    expectClose(
      Tensor(shape: v.shape, data: y), expected, atol: winogradTolerance(channels: 16, xMax: 2, wMax: 1) + 1e-5,
      "residual epilogue")
  }

  // MARK: Input gradients

  /// Stride-1 3×3 convs whose input gradient (dy padded by 2 − pad, flipped and transposed weights) Winograd takes.
  static let gradientCases: [Conv2DTests.Case] = [
    // dx: 16 → 16 channels on 8×16 (TW 8).
    .init(conv: conv(16, padding: Pads(1)), input: [16, 8, 16]),
    // dx: 24 → 20 channels on 8×8 (row pairs), tail 2.
    .init(conv: conv(24, padding: Pads(1), bias: false), input: [20, 8, 8]),
    // Forward without padding: dy 8×16 padded by 2 → dx 10×18 (TW 9), 16 → 17 channels.
    .init(conv: conv(16, padding: Pads(0)), input: [17, 10, 18]),
  ]

  static let inputGradientKernels: [KernelFunction] = gradientCases.enumerated().map { i, c in
    try! Conv2DGradientKernel.make(
      name: "w\(i)_dx", layer: "c\(i)", conv: c.conv, input: TensorType(.f32, c.input), target: .input(0),
      options: KernelOptions(threadSlots: 2))
  }

  @Test(arguments: gradientCases.indices)
  func inputGradientMatchesTheReference(_ i: Int) throws {
    let c = Self.gradientCases[i]
    let bench = try Self.bench.get()
    let kernel = try #require(bench.kernels["w\(i)_dx"])
    var results: [[Float]] = []
    for (threads, n) in [(1, 5), (2, 5), (1, 1), (2, 1)] {
      try bench.setThreads(threads)
      var random = SeededRandom(seed: UInt64(60 + i))
      let x = random.tensor([n] + c.input, low: -2, high: 2)
      let w = random.tensor([c.conv.filters, c.input[0], 3, 3], low: -1, high: 1)
      let y = try ReferenceOps.conv2d(x, weight: w, bias: nil, c.conv)
      let dy = random.tensor(y.shape, low: -1, high: 1)
      let expected = try ReferenceGradients.conv2d(dy: dy, x: x, weight: w, bias: nil, c.conv).dx
      let dx = try bench.run(kernel, n: n, ["dy": dy.data, "weight": w.data])["dx"] ?? []
      expectClose(
        Tensor(shape: expected.shape, data: dx), expected,
        atol: winogradTolerance(channels: c.conv.filters, xMax: 1, wMax: 1),
        "\(kernel.name) at n=\(n), \(threads) thread(s)")
      results.append(dx)
    }
    #expect(results[0] == results[1], "w\(i)_dx: 1 and 2 threads differ")
    #expect(results[2] == results[3], "w\(i)_dx: 1 and 2 threads differ at batch 1")
  }
}
