// The convolution kernels (flat loops, im2col + OpenBLAS, direct loops) against the interpreter, over every
// combination of padding, stride, dilation, groups and kernel shape; thread counts, batches, no-OpenMP builds.
import KilnCodegenC
import KilnHarness
import KilnIR
import KilnReference
import KilnTestSupport
import Testing

@Suite struct Conv2DTests {
  struct Case: Sendable, CustomTestStringConvertible {
    var conv: Conv2D
    var input: [Int]
    var testDescription: String {
      "\(input) → \(conv.filters) k \(conv.kernel) s \(conv.stride) p \(conv.padding) d \(conv.dilation) g \(conv.groups)"
        + " bias \(conv.bias) \(conv.activation)"
    }
  }

  /// Every combination of padding (0, 1, asymmetric, same), stride (1, 2, 3), dilation (1, 2) and kernel
  /// (1×1, 3×3, 5×5, 3×1) on a 4×11×9 input: 96 window geometries, where the clipping arithmetic lives. Groups
  /// (1, 2, depthwise with multiplier 1 or 2), bias and activation (identity, relu, leaky relu) take turns, each
  /// groups value meeting every kernel, stride and padding. (All 288 combinations with groups as well took
  /// 50 s to compile at -O3 on this 2-core machine; these take a third of that.) Floor rounding, as PyTorch
  /// does: most of these strides do not tile 11×9 exactly.
  static let cases: [Case] = {
    let paddings: [Padding] = [
      .explicit(Pads(0)), .explicit(Pads(1)), .explicit(Pads(top: 2, left: 0, bottom: 1, right: 3)), .same,
    ]
    let kernels = [Pair(1), Pair(3), Pair(5), Pair(3, 1)]
    let activations: [Activation] = [.identity, .relu, .leakyRelu(alpha: 0.1)]
    var cases: [Case] = []
    for padding in paddings {
      for stride in [1, 2, 3] {
        for dilation in [1, 2] {
          for kernel in kernels {
            let i = cases.count
            let groups = [1, 2, 4][i % 3]
            let filters = groups == 4 ? 4 * (1 + i / 9 % 2) : 6
            let conv = Conv2D(
              filters: filters, kernel: kernel, stride: Pair(stride), padding: padding, dilation: Pair(dilation),
              groups: groups, bias: i / 2 % 2 == 0, activation: activations[i / 3 % 3], rounding: .floor)
            cases.append(Case(conv: conv, input: [4, 11, 9]))
          }
        }
      }
    }
    return cases
  }()

  static func name(_ i: Int, blas: Bool, prefix: String = "k") -> String {
    "\(prefix)\(i)_conv_\(blas ? "blas" : "loops")"
  }

  /// The kernels of `cases`; the tiled loops only when `tiled` (Conv2DTiledTests covers them) and Winograd only
  /// when `winograd` (Conv2DWinogradTests), so these suites keep checking the flat loops and im2col + OpenBLAS
  /// on the shapes the others would take.
  static func kernels(
    _ cases: [Case], blas: Bool, threadSlots: Int = 8, prefix: String = "k", flat: Bool = true, tiled: Bool = false,
    winograd: Bool = false
  ) -> [KernelFunction] {
    cases.enumerated().map { i, c in
      Conv2DKernel.make(
        name: name(i, blas: blas, prefix: prefix), layer: "c\(i)", conv: c.conv, input: TensorType(.f32, c.input),
        options: KernelOptions(
          blas: blas, threadSlots: threadSlots, flatConvolutions: flat, tiledConvolutions: tiled,
          winogradConvolutions: winograd))
    }
  }

  /// The cases whose BLAS kernel is the flat one (stride 1, not depthwise, few enough wasted columns).
  static let flatCases = cases.indices.filter {
    Conv2DKernel.template(
      conv: cases[$0].conv, input: TensorType(.f32, cases[$0].input), options: KernelOptions(tiledConvolutions: false))
      == "conv2d_flat"
  }

  static let blasBench = Result { try KernelBench.singleThreadedBLAS(kernels(cases, blas: true)) }
  /// The same cases with the flat loops turned off, so im2col + OpenBLAS is checked on every geometry too.
  static let gemmBench = Result {
    try KernelBench.singleThreadedBLAS(kernels(flatCases.map { cases[$0] }, blas: true, prefix: "g", flat: false))
  }
  static let loopsBench = Result { try KernelBench(kernels(cases, blas: false)) }

  /// Runs `kernel` for case `c` at batch `n` and compares with `ReferenceOps.conv2d`; returns the output.
  @discardableResult
  static func check(
    _ c: Case, kernel: KernelFunction, n: Int, on bench: KernelBench, seed: UInt64,
    sourceLocation: Testing.SourceLocation = #_sourceLocation
  ) throws -> [Float] {
    var random = SeededRandom(seed: seed)
    let g = c.conv.groups
    let x = random.tensor([n] + c.input, low: -2, high: 2)
    let w = random.tensor([c.conv.filters, c.input[0] / g, c.conv.kernel.h, c.conv.kernel.w], low: -1, high: 1)
    let b = random.tensor([c.conv.filters], low: -1, high: 1)
    var arguments = ["x": x.data, "weight": w.data]
    if c.conv.bias { arguments["bias"] = b.data }
    let y = try bench.run(kernel, n: n, arguments)["y"] ?? []
    let expected = try ReferenceOps.conv2d(x, weight: w, bias: c.conv.bias ? b : nil, c.conv)
    let depth = c.input[0] / g * c.conv.kernel.h * c.conv.kernel.w
    expectClose(
      Tensor(shape: expected.shape, data: y), expected, atol: accumulationTolerance(depth: depth, xMax: 2, wMax: 1),
      "\(kernel.name) \(c.testDescription) at n=\(n)", sourceLocation: sourceLocation)
    return y
  }

  /// Each kernel runs at batch 3, then at batch 1 (a smaller runtime batch through the same compiled code).
  @Test(arguments: cases.indices)
  func blasMatchesTheInterpreter(_ i: Int) throws {
    let bench = try Self.blasBench.get()
    let kernel = try #require(bench.kernels[Self.name(i, blas: true)])
    for n in [3, 1] { try Self.check(Self.cases[i], kernel: kernel, n: n, on: bench, seed: UInt64(i * 2 + n)) }
  }

  @Test(arguments: flatCases.indices)
  func gemmMatchesTheInterpreterWhereTheFlatLoopsAreChosen(_ k: Int) throws {
    let bench = try Self.gemmBench.get()
    let kernel = try #require(bench.kernels[Self.name(k, blas: true, prefix: "g")])
    #expect(kernel.template.isEmpty && kernel.usesBLAS)
    let i = Self.flatCases[k]
    for n in [3, 1] { try Self.check(Self.cases[i], kernel: kernel, n: n, on: bench, seed: UInt64(i * 2 + n)) }
  }

  @Test(arguments: cases.indices)
  func loopsMatchTheInterpreter(_ i: Int) throws {
    let bench = try Self.loopsBench.get()
    let kernel = try #require(bench.kernels[Self.name(i, blas: false)])
    for n in [3, 1] { try Self.check(Self.cases[i], kernel: kernel, n: n, on: bench, seed: UInt64(i * 2 + n)) }
  }

  @Test func theVariantsAreTheOnesDocumented() {
    for (i, c) in Self.cases.enumerated() {
      let blas = Self.kernels([c], blas: true)[0]
      let gemm = Self.kernels([c], blas: true, flat: false)[0]
      let loops = Self.kernels([c], blas: false)[0]
      let depthwise = c.conv.groups == c.input[0]
      let flat = blas.template == "conv2d_flat"
      #expect(Self.flatCases.contains(i) == flat, "case \(i): Conv2DKernel.template names the variant")
      #expect(!flat || (c.conv.stride == Pair(1) && !depthwise), "case \(i): flat loops only at stride 1, not depthwise")
      #expect(blas.usesBLAS == (!depthwise && !flat), "case \(i): depthwise convolutions use the direct loops")
      #expect(gemm.usesBLAS == !depthwise, "case \(i): without the flat loops every other conv calls OpenBLAS")
      #expect(!loops.usesBLAS && !loops.parameters.contains { $0.role == .scratch })
      let direct1x1 = c.conv.kernel == Pair(1) && c.conv.stride == Pair(1)
        && c.conv.window.pads(inputH: c.input[1], inputW: c.input[2]) == Pads(0)
      let scratch = gemm.parameters.first { $0.role == .scratch }
      #expect((scratch != nil) == (gemm.usesBLAS && !direct1x1), "case \(i): im2col scratch only when columns are built")
      #expect(!flat || blas.parameters.last?.role == .scratch, "case \(i): the flat loops pad into scratch")
    }
    // Stride 1 with 1 or 2 groups meets every padding and kernel: most of those take the flat loops.
    #expect(Self.flatCases.count >= 16, "flat cases: \(Self.flatCases)")
  }
}

/// The course's worked examples, exactly (small integers: every float sum is exact), through both variants.
@Suite struct Conv2DCourseExampleTests {
  static let image: [Float] = [
    1, 0, 0, 0, 0, 1,
    0, 1, 0, 0, 1, 0,
    0, 0, 1, 1, 0, 0,
    1, 0, 0, 0, 1, 0,
    0, 1, 0, 0, 1, 0,
    0, 0, 1, 0, 1, 0,
  ]
  static let filters: [Float] = [
    1, -1, -1, -1, 1, -1, -1, -1, 1,  // filter 1
    -1, 1, -1, -1, 1, -1, -1, 1, -1,  // filter 2
  ]
  /// The 3-channel 5×5 input, channel-major (the slide shows x[:, :, c]), and w1 likewise.
  static let threeChannels: [Float] = [
    1, 2, 0, 0, 0, 2, 2, 0, 0, 0, 2, 2, 2, 1, 0, 1, 0, 0, 2, 0, 1, 1, 0, 1, 0,
    1, 0, 0, 1, 0, 1, 0, 0, 0, 1, 0, 0, 1, 2, 0, 0, 1, 0, 1, 0, 1, 1, 1, 1, 2,
    0, 0, 2, 2, 2, 1, 2, 2, 2, 0, 1, 1, 1, 1, 0, 1, 2, 0, 0, 0, 2, 2, 2, 1, 0,
  ]
  static let w1: [Float] = [
    -1, 0, 0, 1, -1, -1, 0, 0, -1,
    -1, 0, 1, 1, -1, 1, -1, 0, 1,
    -1, -1, -1, -1, 1, -1, 0, 1, -1,
  ]
  static let sobelInput: [Float] = Array(repeating: 10, count: 18) + Array(repeating: 0, count: 18)

  struct Example: Sendable, CustomTestStringConvertible {
    var name: String
    var conv: Conv2D
    var input: [Int]
    var x: [Float]
    var weight: [Float]
    var expected: [Float]
    var testDescription: String { name }
  }

  static let examples: [Example] = [
    Example(
      name: "6×6 image, two filters, stride 1", conv: Conv2D(filters: 2, kernel: Pair(3), bias: false),
      input: [1, 6, 6], x: image, weight: filters,
      expected: [3, -1, -3, -1, -3, 1, 0, -3, -3, -3, 0, 1, 3, -2, -2, -1]
        + [-1, -1, -1, -1, -1, -1, -2, 1, -1, -1, -2, 1, -1, 0, -4, 3]),
    Example(
      name: "6×6 image, filter 1, stride 2",
      conv: Conv2D(filters: 1, kernel: Pair(3), stride: Pair(2), bias: false, rounding: .floor),
      input: [1, 6, 6], x: image, weight: Array(filters[0..<9]), expected: [3, -3, -3, 0]),
    Example(
      name: "3 channels, padding 1, stride 2, b1 = 0",
      conv: Conv2D(filters: 1, kernel: Pair(3), stride: Pair(2), padding: .explicit(Pads(1))),
      input: [3, 5, 5], x: threeChannels, weight: w1, expected: [-7, 3, 1, -7, -11, -1, -4, -2, -4]),
    Example(
      name: "Sobel-like kernel, valid", conv: Conv2D(filters: 1, kernel: Pair(3), padding: .valid, bias: false),
      input: [1, 6, 6], x: sobelInput, weight: [1, 2, 1, 0, 0, 0, -1, -2, -1],
      expected: [0, 0, 0, 0, 40, 40, 40, 40, 40, 40, 40, 40, 0, 0, 0, 0]),
  ]

  static let bench = Result {
    try KernelBench.singleThreadedBLAS(
      examples.indices.flatMap { i in
        [true, false].map { blas in
          Conv2DKernel.make(
            name: "k\(i)_\(blas ? "blas" : "loops")", layer: "c\(i)", conv: examples[i].conv,
            input: TensorType(.f32, examples[i].input), options: KernelOptions(blas: blas))
        }
      })
  }

  @Test(arguments: examples.indices)
  func reproducesTheCourse(_ i: Int) throws {
    let e = Self.examples[i]
    let bench = try Self.bench.get()
    for variant in ["blas", "loops"] {
      let kernel = try #require(bench.kernels["k\(i)_\(variant)"])
      var arguments = ["x": e.x, "weight": e.weight]
      if e.conv.bias { arguments["bias"] = [Float](repeating: 0, count: e.conv.filters) }
      #expect(try bench.run(kernel, n: 1, arguments)["y"] == e.expected, "\(variant)")
      // Two copies of the image: each gets the same answer.
      let twice = arguments.mapValues { $0.count == e.x.count ? $0 + $0 : $0 }
      #expect(try bench.run(kernel, n: 2, twice)["y"] == e.expected + e.expected, "\(variant), batch 2")
    }
  }
}

/// Larger convolutions, above the parallel threshold: the same bits on 1 and 2 threads, with more images
/// than scratch slots; and a build without OpenMP that compiles (under -Werror) and matches.
@Suite struct Conv2DThreadingTests {
  /// Multiply-adds per sample: 104k, 75k, 65k, 120k; at batch 5 all are above the 2^17 parallel threshold.
  static let cases: [Conv2DTests.Case] = [
    .init(conv: Conv2D(filters: 12, kernel: Pair(3), padding: .same, activation: .relu), input: [8, 12, 10]),
    .init(conv: Conv2D(filters: 12, kernel: Pair(1)), input: [32, 14, 14]),
    .init(conv: Conv2D(filters: 32, kernel: Pair(3), padding: .explicit(Pads(1)), groups: 32), input: [32, 15, 15]),
    .init(
      conv: Conv2D(filters: 16, kernel: Pair(5), groups: 2, activation: .leakyRelu(alpha: 0.01)), input: [6, 14, 14]),
  ]

  /// The BLAS variant with 8 scratch slots ("k…") and with 2 ("s…", so batch 5 puts several images in a
  /// slot; cases 0 and 3 take the flat loops), im2col + OpenBLAS for every case ("g…"), and the direct loops.
  /// (Conv2DTiledTests checks the tiled loops on 1 and 2 threads.)
  static let kernels =
    Conv2DTests.kernels(cases, blas: true) + Conv2DTests.kernels(cases, blas: true, threadSlots: 2, prefix: "s")
    + Conv2DTests.kernels(cases, blas: true, prefix: "g", flat: false) + Conv2DTests.kernels(cases, blas: false)

  static let variants = [("k", true), ("s", true), ("g", true), ("k", false)]

  static let bench = Result { try KernelBench.singleThreadedBLAS(kernels) }

  @Test(arguments: cases.indices, variants)
  func resultsDoNotDependOnTheThreadCount(_ i: Int, variant: (prefix: String, blas: Bool)) throws {
    let c = Self.cases[i]
    let bench = try Self.bench.get()
    let kernel = try #require(bench.kernels[Conv2DTests.name(i, blas: variant.blas, prefix: variant.prefix)])
    try bench.setThreads(1)
    let one = try Conv2DTests.check(c, kernel: kernel, n: 5, on: bench, seed: UInt64(i))
    try bench.setThreads(2)
    let two = try Conv2DTests.check(c, kernel: kernel, n: 5, on: bench, seed: UInt64(i))
    #expect(one == two, "\(kernel.name): 1 and 2 threads differ")
    let single = try Conv2DTests.check(c, kernel: kernel, n: 1, on: bench, seed: UInt64(i))
    #expect(single.count * 5 == one.count)
  }

  /// Without -fopenmp the pragmas drop out (guarded by _OPENMP, so gcc's -Wunknown-pragmas stays quiet
  /// under -Werror) and the loops run serially.
  @Test func compilesAndMatchesWithoutOpenMP() throws {
    let bench = try KernelBench.singleThreadedBLAS(
      Self.kernels, options: BuildOptions(openMP: false, warningsAsErrors: true))
    for i in Self.cases.indices {
      for (prefix, blas) in Self.variants {
        let kernel = try #require(bench.kernels[Conv2DTests.name(i, blas: blas, prefix: prefix)])
        try Conv2DTests.check(Self.cases[i], kernel: kernel, n: 5, on: bench, seed: UInt64(i))
      }
    }
  }
}
