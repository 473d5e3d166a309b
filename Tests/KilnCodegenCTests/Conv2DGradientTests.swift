// The convolution backward kernels (dx, dW, db; flat loops, im2col + OpenBLAS, direct loops) against the reference VJP over
// strides, paddings, dilation, groups and kernel sizes; thread counts and slots; the errors.
import KilnCodegenC
import KilnHarness
import KilnIR
import KilnReference
import KilnTestSupport
import Testing

@Suite struct Conv2DGradientTests {
  struct Case: Sendable, CustomTestStringConvertible {
    var conv: Conv2D
    var input: [Int]
    var batches: [Int] = [3, 1]
    var testDescription: String {
      "\(input) → \(conv.filters) k \(conv.kernel) s \(conv.stride) p \(conv.padding) d \(conv.dilation) g \(conv.groups)"
        + " bias \(conv.bias) n \(batches)"
    }
  }

  static func conv(
    _ filters: Int, _ kernel: Int, stride: Int = 1, padding: Padding = .valid, dilation: Int = 1, groups: Int = 1,
    bias: Bool = true
  ) -> Conv2D {
    Conv2D(
      filters: filters, kernel: Pair(kernel), stride: Pair(stride), padding: padding, dilation: Pair(dilation),
      groups: groups, bias: bias, rounding: .floor)
  }

  static let cases: [Case] = [
    Case(conv: conv(4, 3), input: [3, 7, 6]),
    Case(conv: conv(4, 3, padding: .explicit(Pads(1)), bias: false), input: [3, 7, 6]),
    Case(conv: conv(6, 3, stride: 2, padding: .explicit(Pads(1))), input: [4, 9, 9]),
    // 'same' at stride 2 on 8×8: one pad in all, bottom/right.
    Case(conv: conv(3, 3, stride: 2, padding: .same), input: [2, 8, 8]),
    Case(conv: conv(4, 3, padding: .explicit(Pads(top: 2, left: 0, bottom: 1, right: 3))), input: [2, 8, 7]),
    Case(conv: conv(4, 3, padding: .explicit(Pads(2)), dilation: 2), input: [3, 9, 8]),
    Case(conv: conv(6, 3, padding: .explicit(Pads(1)), groups: 2), input: [4, 6, 6]),
    Case(conv: conv(6, 3, stride: 2, dilation: 2, groups: 2, bias: false), input: [4, 11, 10]),
    Case(conv: conv(4, 3, padding: .explicit(Pads(1)), groups: 4), input: [4, 7, 7]),
    Case(conv: conv(8, 5, stride: 2, padding: .explicit(Pads(2)), groups: 4), input: [4, 9, 9]),
    Case(conv: conv(5, 1), input: [8, 5, 6]),
    Case(conv: conv(4, 1, stride: 2, bias: false), input: [3, 7, 7]),
    Case(conv: conv(3, 5, padding: .same), input: [2, 6, 9]),
    // A leading pad past (k − 1)·dilation: dx cannot be the flat conv of dy (GEMM), dW still can.
    Case(conv: conv(4, 3, padding: .explicit(Pads(top: 3, left: 1, bottom: 0, right: 3))), input: [2, 5, 6]),
    // dW by the flat loops with kernel rows of 3 (blocks of 3 filters, the last starting early) over 320 wide
    // positions, 45 taps per filter.
    Case(conv: conv(8, 3, padding: .explicit(Pads(1))), input: [5, 16, 18]),
    // LeNet-5's two convolutions.
    Case(conv: conv(6, 5, padding: .explicit(Pads(2))), input: [1, 28, 28]),
    Case(conv: conv(16, 5), input: [6, 14, 14], batches: [3, 1, 16]),
  ]

  static func name(_ i: Int, _ output: String, blas: Bool, prefix: String = "k") -> String {
    "\(prefix)\(i)_\(output)_\(blas ? "blas" : "loops")"
  }

  static func kernels(_ cases: [Case], blas: Bool, threadSlots: Int = 8, prefix: String = "k", flat: Bool = true)
    throws -> [KernelFunction]
  {
    try cases.enumerated().flatMap { i, c in
      try gradientTargets.filter { c.conv.bias || $0.output != "dbias" }.map { target, output in
        try Conv2DGradientKernel.make(
          name: name(i, output, blas: blas, prefix: prefix), layer: "c\(i)", conv: c.conv,
          input: TensorType(.f32, c.input), target: target,
          options: KernelOptions(
            blas: blas, threadSlots: threadSlots, flatConvolutions: flat, tiledConvolutions: false,
            winogradConvolutions: false))
      }
    }
  }

  static let blasBench = Result { try KernelBench.singleThreadedBLAS(kernels(cases, blas: true)) }
  /// The cases where a BLAS-allowed gradient kernel takes the flat loops (dx or dW of a small stride-1 conv).
  static let flatCases = cases.indices.filter { i in
    (try? kernels([cases[i]], blas: true))?.contains { $0.template.hasSuffix("_flat") } ?? false
  }
  /// Those cases with the flat loops turned off, so im2col + OpenBLAS is checked on them too.
  static let gemmBench = Result {
    try KernelBench.singleThreadedBLAS(kernels(flatCases.map { cases[$0] }, blas: true, prefix: "g", flat: false))
  }
  static let loopsBench = Result { try KernelBench(kernels(cases, blas: false)) }

  /// Runs the kernels of case `c` (named by `name`) at batch `n`, compares each with `ReferenceGradients.conv2d`,
  /// and returns the outputs by name.
  @discardableResult
  static func check(
    _ c: Case, n: Int, on bench: KernelBench, seed: UInt64, name: (String) -> String,
    sourceLocation: Testing.SourceLocation = #_sourceLocation
  ) throws -> [String: [Float]] {
    var random = SeededRandom(seed: seed)
    let conv = c.conv
    let channels = c.input[0] / conv.groups
    let x = random.tensor([n] + c.input, low: -2, high: 2)
    let w = random.tensor([conv.filters, channels, conv.kernel.h, conv.kernel.w], low: -1, high: 1)
    let b = random.tensor([conv.filters], low: -1, high: 1)
    let y = try ReferenceOps.conv2d(x, weight: w, bias: nil, conv)
    let dy = random.tensor(y.shape, low: -1, high: 1)
    let expected = try ReferenceGradients.conv2d(dy: dy, x: x, weight: w, bias: conv.bias ? b : nil, conv)
    let arguments = ["dy": dy.data, "x": x.data, "weight": w.data]
    // dx sums at most Fg·kh·kw taps dy·W; dW sums n·OH·OW products dy·x (|x| ≤ 2); db n·OH·OW values of dy.
    let taps = conv.filters / conv.groups * conv.kernel.h * conv.kernel.w
    let positions = n * y.shape[2] * y.shape[3]
    let checks: [(String, Tensor?, Double)] = [
      ("dx", expected.dx, accumulationTolerance(depth: taps, xMax: 1, wMax: 1)),
      ("dweight", expected.dWeight, accumulationTolerance(depth: positions, xMax: 2, wMax: 1)),
      ("dbias", expected.dBias, accumulationTolerance(depth: positions, xMax: 1, wMax: 1)),
    ]
    var outputs: [String: [Float]] = [:]
    for (output, reference, atol) in checks {
      guard let reference else { continue }
      let kernel = try #require(bench.kernels[name(output)], sourceLocation: sourceLocation)
      let result = try bench.run(kernel, n: n, arguments)[output] ?? []
      expectClose(
        Tensor(shape: reference.shape, data: result), reference, atol: atol,
        "\(kernel.name) \(c.testDescription) at n=\(n)", sourceLocation: sourceLocation)
      outputs[output] = result
    }
    return outputs
  }

  @Test(arguments: cases.indices)
  func blasMatchesTheReference(_ i: Int) throws {
    let bench = try Self.blasBench.get()
    for (k, n) in Self.cases[i].batches.enumerated() {
      try Self.check(Self.cases[i], n: n, on: bench, seed: UInt64(i * 10 + k)) { Self.name(i, $0, blas: true) }
    }
  }

  @Test(arguments: flatCases.indices)
  func gemmMatchesTheReferenceWhereTheFlatLoopsAreChosen(_ k: Int) throws {
    let bench = try Self.gemmBench.get()
    let i = Self.flatCases[k]
    for (b, n) in Self.cases[i].batches.enumerated() {
      try Self.check(Self.cases[i], n: n, on: bench, seed: UInt64(i * 10 + b)) { Self.name(k, $0, blas: true, prefix: "g") }
    }
  }

  @Test(arguments: cases.indices)
  func loopsMatchTheReference(_ i: Int) throws {
    let bench = try Self.loopsBench.get()
    for (k, n) in Self.cases[i].batches.enumerated() {
      try Self.check(Self.cases[i], n: n, on: bench, seed: UInt64(i * 10 + k)) { Self.name(i, $0, blas: false) }
    }
  }

  /// Without the flat loops, BLAS everywhere but depthwise; scratch exactly where columns or partial sums are
  /// kept. With them, dx and dW of small stride-1 convs take the flat loops (with scratch), the rest as before.
  @Test func theVariantsAreTheOnesDocumented() throws {
    for (i, c) in Self.cases.enumerated() {
      let depthwise = c.conv.groups > 1 && c.conv.groups == c.input[0]
      let asColumns = c.conv.kernel == Pair(1) && c.conv.stride == Pair(1)
      let gemm = try Self.kernels([c], blas: true, flat: false)
      for (kernel, flatOff) in zip(try Self.kernels([c], blas: true), gemm) {
        let output = kernel.parameters.last { $0.role == .output }?.name
        let expected = output == "dx" ? "conv2d_flat" : "conv2d_grad_weight_flat"
        guard kernel.template.hasSuffix("_flat") else {
          #expect(kernel.definition == flatOff.definition, "case \(i) \(kernel.name): the GEMM or direct kernel")
          continue
        }
        #expect(kernel.template == expected && c.conv.stride == Pair(1) && !depthwise, "case \(i) \(kernel.name)")
        #expect(!kernel.usesBLAS && kernel.parameters.last?.role == .scratch, "case \(i) \(kernel.name)")
      }
      for kernel in gemm {
        let scratch = kernel.parameters.contains { $0.role == .scratch }
        let output = kernel.parameters.last { $0.role == .output }?.name
        #expect(kernel.usesBLAS == (!depthwise && output != "dbias"), "case \(i) \(kernel.name) \(output ?? "-")")
        let expectsScratch = kernel.usesBLAS && (output == "dweight" || !asColumns)
        #expect(scratch == expectsScratch, "case \(i) \(kernel.name): scratch")
      }
      for kernel in try Self.kernels([c], blas: false) {
        #expect(!kernel.usesBLAS && !kernel.parameters.contains { $0.role == .scratch }, "case \(i) \(kernel.name)")
      }
    }
  }

  @Test func refusesWhatItCannotDifferentiate() {
    var fused = Self.conv(4, 3)
    fused.epilogue = [.activation(.relu)]
    let refused: [(Conv2D, [Int], Gradient.Target, String)] = [
      (Conv2D(filters: 4, kernel: Pair(3), activation: .relu), [2, 6, 6], .input(0), "activation"),
      (fused, [2, 6, 6], .parameter(.weight), "epilogue"),
      (Self.conv(4, 3, bias: false), [2, 6, 6], .parameter(.bias), "no bias"),
      (Self.conv(4, 3), [2, 6, 6], .input(1), "no x1"),
      (Self.conv(4, 3, groups: 2), [3, 6, 6], .input(0), "divide into 2 groups"),
      (Self.conv(4, 3, stride: 0), [2, 6, 6], .input(0), "≥ 1"),
      (Self.conv(4, 7), [2, 6, 6], .parameter(.weight), "larger than its padded input"),
      (Conv2D(filters: 4, kernel: Pair(3), stride: Pair(2)), [2, 6, 6], .input(0), "does not fit"),
      (Self.conv(4, 3), [2, 36], .input(0), "[C, H, W]"),
    ]
    for (conv, input, target, words) in refused {
      #expect {
        _ = try Conv2DGradientKernel.make(
          name: "k9", layer: "c1", conv: conv, input: TensorType(.f32, input), target: target, options: KernelOptions())
      } throws: { error in
        "\(error)".contains("kernel k9") && "\(error)".contains("c1") && "\(error)".contains(words)
      }
    }
  }

  @Test func buildsFromAGradientNode() throws {
    let node = Gradient(
      forward: .conv2d(Self.conv(16, 5)), forwardName: "c2", forwardInputTypes: [TensorType(.f32, [6, 14, 14])],
      target: .input(0), operands: [.outputGradient])
    #expect(Conv2DGradientKernel.differentiates(node) && !DenseGradientKernel.differentiates(node))
    let kernel = try Conv2DGradientKernel.make(
      name: "k5_grad_c2", gradient: node, options: KernelOptions(threadSlots: 4))
    #expect(kernel.parameters.map(\.name) == ["dy", "weight", "dx", "scratch"])
    #expect(kernel.parameters.map(\.floats) == [1600, 2400, 1176, 4 * 150 * 100])
    #expect(kernel.parameters[1].tensor == "c2.weight")
  }
}

/// Above the parallel threshold: the same bits on 1 and 2 threads, with 8 slots and with 2 (so several images
/// share a slot and its partial dW), and a build without OpenMP that compiles under -Werror and matches.
@Suite struct Conv2DGradientThreadingTests {
  static let cases: [Conv2DGradientTests.Case] = [
    .init(conv: Conv2DGradientTests.conv(16, 5), input: [6, 14, 14], batches: [16]),
    .init(conv: Conv2DGradientTests.conv(12, 3, padding: .same, groups: 2), input: [8, 12, 10], batches: [5]),
    .init(
      conv: Conv2DGradientTests.conv(32, 3, padding: .explicit(Pads(1)), groups: 32), input: [32, 15, 15], batches: [5]),
    .init(conv: Conv2DGradientTests.conv(12, 1), input: [32, 14, 14], batches: [5]),
  ]

  /// Flat or BLAS kernels with 8 slots ("k") and 2 ("s"), im2col + OpenBLAS only ("g"), the direct loops.
  static let variants: [(prefix: String, blas: Bool)] = [("k", true), ("s", true), ("g", true), ("k", false)]

  static func kernels() throws -> [KernelFunction] {
    try Conv2DGradientTests.kernels(cases, blas: true)
      + Conv2DGradientTests.kernels(cases, blas: true, threadSlots: 2, prefix: "s")
      + Conv2DGradientTests.kernels(cases, blas: true, prefix: "g", flat: false)
      + Conv2DGradientTests.kernels(cases, blas: false)
  }

  static let bench = Result { try KernelBench.singleThreadedBLAS(kernels()) }

  @Test(arguments: cases.indices, variants.indices)
  func resultsDoNotDependOnTheThreadCount(_ i: Int, variant v: Int) throws {
    let (prefix, blas) = Self.variants[v]
    let c = Self.cases[i]
    let bench = try Self.bench.get()
    let n = c.batches[0]
    let name = { Conv2DGradientTests.name(i, $0, blas: blas, prefix: prefix) }
    try bench.setThreads(1)
    let one = try Conv2DGradientTests.check(c, n: n, on: bench, seed: UInt64(i), name: name)
    try bench.setThreads(2)
    let two = try Conv2DGradientTests.check(c, n: n, on: bench, seed: UInt64(i), name: name)
    #expect(one.count == 3 && one == two, "case \(i) \(prefix) blas \(blas): 1 and 2 threads differ")
  }

  /// An empty batch has zero parameter gradients (the outputs start as NaN in the bench).
  @Test(arguments: variants.indices)
  func anEmptyBatchGivesZeroParameterGradients(variant v: Int) throws {
    let (prefix, blas) = Self.variants[v]
    let bench = try Self.bench.get()
    for output in ["dweight", "dbias"] {
      let kernel = try #require(bench.kernels[Conv2DGradientTests.name(0, output, blas: blas, prefix: prefix)])
      let result = try bench.run(kernel, n: 0, ["dy": [], "x": []])[output] ?? []
      #expect(result.count == (output == "dbias" ? 16 : 2400) && result.allSatisfy { $0 == 0 }, "\(kernel.name)")
    }
  }

  @Test func compilesAndMatchesWithoutOpenMP() throws {
    let bench = try KernelBench.singleThreadedBLAS(
      Self.kernels(), options: BuildOptions(openMP: false, warningsAsErrors: true))
    for (i, c) in Self.cases.enumerated() {
      for (prefix, blas) in Self.variants {
        try Conv2DGradientTests.check(c, n: c.batches[0], on: bench, seed: UInt64(i)) {
          Conv2DGradientTests.name(i, $0, blas: blas, prefix: prefix)
        }
      }
    }
  }
}
