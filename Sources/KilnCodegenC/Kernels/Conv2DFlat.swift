// The "flat" stride-1 convolution kernels: padded planes, wide output rows, register-tiled vector loops.
import KilnIR

/// The sizes of one stride-1 convolution as the flat kernels compute it: `inChannels` planes of
/// `inH`×`inW` per group, zero-padded (top `padTop`, left `padLeft`) into planes `padW` wide, give
/// `outChannels` planes of `outH`×`outW` per group. The forward conv is one; so is the input gradient of a
/// stride-1 conv (dy padded by (k − 1)·d − pad, flipped weights).
struct Conv2DFlatShape: Hashable, Sendable {
  var groups: Int, inChannels: Int, inH: Int, inW: Int
  var outChannels: Int, outH: Int, outW: Int
  var kernelH: Int, kernelW: Int, dilationH: Int, dilationW: Int
  var padTop: Int, padLeft: Int
  /// Multiply-adds per sample that are not by a padding zero (the convolution's own count).
  var usefulMACs: Int
  /// 1 for every flat kernel; the tiled loops also take other strides (`init(tiledForward:)`).
  var strideH = 1, strideW = 1

  /// The width of a padded plane and of a wide output row: every tap of every kept column fits.
  var padW: Int { outW + (kernelW - 1) * dilationW }
  /// The rows of a padded plane that a tap can read.
  var padH: Int { outH + (kernelH - 1) * dilationH }
  /// inChannels·kh·kw: the taps of one output.
  var depth: Int { inChannels * kernelH * kernelW }
  /// OH·OW.
  var outPlane: Int { outH * outW }
  /// The wide positions rounded up to whole chunks of `chunk` floats.
  func wideFloats(chunk: Int) -> Int { (outH * padW + chunk - 1) / chunk * chunk }
  /// A padded plane: the wide positions plus the farthest tap offset, so no chunk reads past it.
  func planeFloats(chunk: Int) -> Int {
    wideFloats(chunk: chunk) + (kernelH - 1) * dilationH * padW + (kernelW - 1) * dilationW
  }
  /// Padded rows [rowLo, rowHi) hold input rows r − padTop; columns padLeft ..< padLeft + copyW hold input columns.
  var rowLo: Int { padTop }
  var rowHi: Int { max(padTop, min(padH, inH + padTop)) }
  var copyW: Int { max(0, min(inW, padW - padLeft)) }

  /// The flat form of a stride-1 convolution's forward; nil for other strides or pads the window clips.
  init?(forward g: Conv2DGeometry) {
    guard g.strideH == 1, g.strideW == 1 else { return nil }
    self.init(tiledForward: g)
  }

  /// The shape the tiled loops compute a forward convolution of any stride in (`Conv2DTiling` splits the
  /// padded columns into `strideW` phases).
  init(tiledForward g: Conv2DGeometry) {
    (groups, inChannels, inH, inW) = (g.groups, g.groupChannels, g.inH, g.inW)
    (outChannels, outH, outW) = (g.groupFilters, g.outH, g.outW)
    (kernelH, kernelW, dilationH, dilationW) = (g.kernelH, g.kernelW, g.dilationH, g.dilationW)
    (padTop, padLeft) = (g.padTop, g.padLeft)
    usefulMACs = g.macsPerSample
    (strideH, strideW) = (g.strideH, g.strideW)
  }

  /// The flat form of a stride-1 convolution's input gradient: dy padded by (k − 1)·d − pad on each leading
  /// side; nil for other strides or when a leading pad exceeds (k − 1)·d (the gradient would crop dy).
  init?(inputGradientOf g: Conv2DGeometry) {
    let top = (g.kernelH - 1) * g.dilationH - g.padTop
    let left = (g.kernelW - 1) * g.dilationW - g.padLeft
    guard g.strideH == 1, g.strideW == 1, top >= 0, left >= 0 else { return nil }
    (groups, inChannels, inH, inW) = (g.groups, g.groupFilters, g.outH, g.outW)
    (outChannels, outH, outW) = (g.groupChannels, g.inH, g.inW)
    (kernelH, kernelW, dilationH, dilationW) = (g.kernelH, g.kernelW, g.dilationH, g.dilationW)
    (padTop, padLeft) = (top, left)
    usefulMACs = g.macsPerSample
  }

  /// Whether the flat loops beat im2col + OpenBLAS here: small per-group GEMMs (output channels × taps at
  /// most 2400, LeNet-5's conv2), where OpenBLAS's call, copy and zeroing overheads dominate; at least 60%
  /// of the computed multiply-adds useful (the dropped columns, and for an input gradient the taps that
  /// read dy's zero border: LeNet-5's conv2 dx would waste 61% and runs faster as GEMM + col2im); and no
  /// depthwise conv (the direct loops keep those).
  /// This shape when the flat loops compute it under `options`: OpenBLAS allowed (they replace its small
  /// GEMMs), flat convolutions on, and `isSmall`; nil otherwise. Forward and gradient kernels ask the same.
  func chosen(under options: KernelOptions) -> Conv2DFlatShape? {
    options.blas && options.flatConvolutions && isSmall ? self : nil
  }

  /// The tiling `conv2d_tiled` computes this shape with under `options` (OpenBLAS allowed, tiled
  /// convolutions on, and `Conv2DTiling` applies), or nil. It takes precedence over the flat loops and GEMM.
  func tiled(under options: KernelOptions) -> Conv2DTiling? {
    options.blas && options.tiledConvolutions ? Conv2DTiling(self) : nil
  }

  /// The plan `conv2d_winograd` computes this shape with under `options`, or nil: OpenBLAS allowed (as for the
  /// tiled and flat loops, which it is chosen ahead of), Winograd convolutions on, and `Conv2DWinograd` applies.
  func winograd(under options: KernelOptions) -> Conv2DWinograd? {
    options.blas && options.winogradConvolutions ? Conv2DWinograd(self) : nil
  }

  /// A 1×1 kernel over unpadded planes: OpenBLAS multiplies the input planes as they are, with no im2col and
  /// no scratch, so neither the flat nor the tiled loops take it (their copies and packed weights only added
  /// scratch: inception_block's arena at batch 1 ended 7–19% above its lower bound with them).
  var isPlainGEMM: Bool {
    kernelH == 1 && kernelW == 1 && strideH == 1 && strideW == 1 && padTop == 0 && padLeft == 0 && padW == inW
      && padH == inH
  }

  var isSmall: Bool {
    let computed = groups * outChannels * wideFloats(chunk: 8) * depth
    return outChannels * depth <= 2400 && 10 * usefulMACs >= 6 * computed && !(groups > 1 && inChannels == 1)
      && !isPlainGEMM
  }
}

/// Context of `conv2d_flat.c.mustache`: a stride-1 conv (or, `transposed`, the input gradient of one) by
/// padded planes and register-tiled vector loops over wide output rows.
public struct Conv2DFlatContext: KernelContext {
  public static let template = "conv2d_flat"
  public var name: String
  public var comment: String
  /// The input gradient of a conv (parameters dy, weight, dx; the weights flipped into scratch first).
  public var transposed: Bool
  public var groups: Int, inChannels: Int, inH: Int, inW: Int
  public var outChannels: Int, outH: Int, outW: Int
  /// Channels of the whole input and output (all groups).
  public var inputChannels: Int, outputChannels: Int
  public var kernelH: Int, kernelW: Int, dilationH: Int, dilationW: Int
  public var padTop: Int, padLeft: Int
  public var depth: Int, outPlane: Int
  public var padW: Int, rowLo: Int, rowHi: Int, copyW: Int
  /// dilationH·padW: the offset of one kernel row in a padded plane.
  public var rowStep: Int
  public var planeFloats: Int, wideFloats: Int
  /// inChannels·planeFloats: one slot's padded planes; the wide outputs of one block of channels follow them.
  public var paddedFloats: Int
  public var slotFloats: Int
  /// Floats of flipped weights at the head of scratch (0 unless `transposed`).
  public var packFloats: Int
  /// The register tile: `filterBlock` channels × `vectors` vectors of 8 floats (`chunk` wide positions).
  public var filterBlock: Int, vectors: Int, chunk: Int
  /// The tile unrolled: sums a{j}_{u} (stored `outOffset` floats from the chunk's first wide output), the
  /// vector loads of a tap, and each channel's weight (`index` floats from the tap's weight) with its products.
  public var accumulators: [Conv2DTileAccumulatorContext]
  public var loads: [Conv2DTileLoadContext]
  public var weights: [Conv2DTileWeightContext]
  /// outChannels − filterBlock: where the last block starts.
  public var lastBlock: Int
  public var inputFloats: Int, groupInputFloats: Int, outputFloats: Int
  public var slots: Int
  public var macsPerSample: Int
  public var parallelThreshold: Int
  public var bias: Bool
  /// The activation and epilogue steps applied to each value, and the extra inputs they read.
  public var epilogue: [EpilogueStepContext]
  public var operands: [EpilogueOperandContext]
  public var epilogueSummary: String

  public static let sample = Conv2DFlatContext(
    shape: Conv2DFlatShape(forward: Conv2DGradientKernel.sampleGeometry)!, name: "k1_conv_c1", comment: "conv c1",
    transposed: false, slots: 2, bias: true,
    epilogue: FusedEpilogue(activation: .relu, epilogue: [.add, .activation(.tanh)]))

  init(
    shape s: Conv2DFlatShape, name: String, comment: String, transposed: Bool, slots: Int, bias: Bool,
    epilogue: FusedEpilogue
  ) {
    self.name = name
    self.comment = comment
    self.transposed = transposed
    (groups, inChannels, inH, inW) = (s.groups, s.inChannels, s.inH, s.inW)
    (outChannels, outH, outW) = (s.outChannels, s.outH, s.outW)
    (inputChannels, outputChannels) = (s.groups * s.inChannels, s.groups * s.outChannels)
    (kernelH, kernelW, dilationH, dilationW) = (s.kernelH, s.kernelW, s.dilationH, s.dilationW)
    (padTop, padLeft) = (s.padTop, s.padLeft)
    (depth, outPlane) = (s.depth, s.outPlane)
    (padW, rowLo, rowHi, copyW) = (s.padW, s.rowLo, s.rowHi, s.copyW)
    rowStep = s.dilationH * s.padW
    // At most 12 vector sums beside the loaded vectors and the broadcast weight (16 AVX2 registers): 6 × 2.
    // LeNet-5 at batch 64, 1 thread, minimum of 200 calls, in one shell: 975–981 µs against 1,115–1,281 µs
    // for the 8 × 1 tile gcc was left to unroll before, and 1,064–1,097 µs for 8 × 1 unrolled; batch 1 the
    // same within the noise (19–23 µs for all three).
    filterBlock = min(s.outChannels, 6)
    vectors = max(1, min(3, 12 / filterBlock))
    chunk = 8 * vectors
    lastBlock = s.outChannels - filterBlock
    planeFloats = s.planeFloats(chunk: chunk)
    wideFloats = s.wideFloats(chunk: chunk)
    let (block, count, wide, depth) = (filterBlock, vectors, wideFloats, s.depth)
    accumulators = (0..<block).flatMap { j in
      (0..<count).map { Conv2DTileAccumulatorContext(j: j, u: $0, outOffset: j * wide + 8 * $0) }
    }
    loads = (0..<count).map { Conv2DTileLoadContext(u: $0, offset: 8 * $0) }
    weights = (0..<block).map { j in
      Conv2DTileWeightContext(
        index: j * depth, products: (0..<count).map { Conv2DTileAccumulatorContext(j: j, u: $0, outOffset: 0) })
    }
    paddedFloats = s.inChannels * planeFloats
    slotFloats = paddedFloats + filterBlock * wideFloats
    packFloats = transposed ? s.groups * s.outChannels * s.depth : 0
    inputFloats = s.groups * s.inChannels * s.inH * s.inW
    groupInputFloats = s.inChannels * s.inH * s.inW
    outputFloats = s.groups * s.outChannels * s.outPlane
    self.slots = slots
    macsPerSample = s.groups * s.outChannels * s.outPlane * s.depth
    parallelThreshold = denseParallelThreshold
    self.bias = bias
    self.epilogue = epilogue.steps
    operands = epilogue.operands
    epilogueSummary = epilogue.summary
  }

  /// Floats of scratch the kernel needs: the flipped weights, then one padded-planes-and-wide-output slot each.
  var scratchFloats: Int { packFloats + slots * slotFloats }
}

/// Context of `conv2d_grad_weight_flat.c.mustache`: dW of a stride-1 conv by padded x planes, wide dy rows
/// and a register tile of filters × one kernel row of taps, per-slot partial sums added in slot order.
public struct Conv2DGradWeightFlatContext: KernelContext {
  public static let template = "conv2d_grad_weight_flat"
  public var name: String
  public var comment: String
  public var groups: Int, channels: Int, filters: Int
  public var inChannels: Int, inH: Int, inW: Int
  public var outChannels: Int, outH: Int, outW: Int
  public var kernelH: Int, kernelW: Int, dilationH: Int, dilationW: Int
  public var padTop: Int, padLeft: Int
  public var depth: Int, outPlane: Int
  public var padW: Int, rowLo: Int, rowHi: Int, copyW: Int, rowStep: Int
  public var planeFloats: Int, wideFloats: Int, paddedFloats: Int
  /// F·Cg·kh·kw: one whole dW.
  public var weightFloats: Int
  /// 8·weightFloats: a slot's partial dW, 8 lanes per element, at the head of the slot.
  public var laneFloats: Int
  /// laneFloats + paddedFloats + outChannels·wideFloats.
  public var slotFloats: Int
  /// The register tile: `filterBlock` filters × kernelW taps; the last block starts at `lastBlock`.
  public var filterBlock: Int, lastBlock: Int
  /// The tile unrolled: its sums acc{j}_{q}, the dy vector of each filter (`offset` floats into the block's
  /// wide rows), and each tap's x vector (`offset` = q·dilationW) with the products that use it.
  public var accumulators: [Conv2DTileProductContext]
  public var dyLoads: [Conv2DTileOffsetContext]
  public var taps: [Conv2DGradWeightTapContext]
  public var inputFloats: Int, groupInputFloats: Int, outputFloats: Int, groupOutputFloats: Int
  public var slots: Int
  public var macsPerSample: Int
  public var parallelThreshold: Int

  public static let sample = Conv2DGradWeightFlatContext(
    shape: Conv2DFlatShape(forward: Conv2DGradientKernel.sampleGeometry)!, name: "k1_grad_c1",
    comment: "conv c1: dW", slots: 2)

  init(shape s: Conv2DFlatShape, name: String, comment: String, slots: Int) {
    self.name = name
    self.comment = comment
    (groups, channels, filters) = (s.groups, s.groups * s.inChannels, s.groups * s.outChannels)
    (inChannels, inH, inW) = (s.inChannels, s.inH, s.inW)
    (outChannels, outH, outW) = (s.outChannels, s.outH, s.outW)
    (kernelH, kernelW, dilationH, dilationW) = (s.kernelH, s.kernelW, s.dilationH, s.dilationW)
    (padTop, padLeft) = (s.padTop, s.padLeft)
    (depth, outPlane) = (s.depth, s.outPlane)
    (padW, rowLo, rowHi, copyW) = (s.padW, s.rowLo, s.rowHi, s.copyW)
    rowStep = s.dilationH * s.padW
    planeFloats = s.planeFloats(chunk: 8)
    wideFloats = s.wideFloats(chunk: 8)
    paddedFloats = s.inChannels * planeFloats
    weightFloats = s.groups * s.outChannels * s.depth
    laneFloats = 8 * weightFloats
    slotFloats = laneFloats + paddedFloats + s.outChannels * wideFloats
    // filterBlock·kernelW vector sums, filterBlock dy vectors and one x vector fit the 16 AVX2 registers.
    filterBlock = max(1, min(s.outChannels, 15 / (s.kernelW + 1)))
    lastBlock = s.outChannels - filterBlock
    let (block, wide) = (filterBlock, wideFloats)
    accumulators = (0..<block).flatMap { j in (0..<s.kernelW).map { Conv2DTileProductContext(j: j, q: $0) } }
    dyLoads = (0..<block).map { Conv2DTileOffsetContext(j: $0, offset: $0 * wide) }
    taps = (0..<s.kernelW).map { q in
      Conv2DGradWeightTapContext(
        offset: q * s.dilationW, products: (0..<block).map { Conv2DTileProductContext(j: $0, q: q) })
    }
    inputFloats = s.groups * s.inChannels * s.inH * s.inW
    groupInputFloats = s.inChannels * s.inH * s.inW
    outputFloats = s.groups * s.outChannels * s.outPlane
    groupOutputFloats = s.outChannels * s.outPlane
    self.slots = slots
    macsPerSample = s.groups * s.outChannels * s.outPlane * s.depth
    parallelThreshold = denseParallelThreshold
  }

  /// Floats of scratch the kernel needs: one partial dW, padded planes and wide dy rows per slot.
  var scratchFloats: Int { slots * slotFloats }

  /// Whether the flat dW loops compute `s` under `options` (OpenBLAS allowed, flat convolutions on): a kernel
  /// row of at most 12 taps, not depthwise, not a plain 1×1 GEMM, at least 60% of the computed products
  /// useful, and at least 256 wide positions per plane, so each (filter block, channel, kernel row) runs a
  /// long vector loop. Measured on ResNet-20's training step (1 thread, Zen 3): 16×16 and 32×32 planes
  /// 5.2 ms against 7.0 and 9.2 ms for im2col + OpenBLAS; 8×8 planes (80 wide positions) 7.9 against 6.4.
  /// (Before the tile was unrolled with its loads held in registers, deeper kernels than 64 taps lost.)
  static func chosen(_ s: Conv2DFlatShape, under options: KernelOptions) -> Bool {
    let computed = s.groups * s.outChannels * s.wideFloats(chunk: 8) * s.depth
    return options.blas && options.flatConvolutions && s.kernelW <= 12 && !(s.groups > 1 && s.inChannels == 1)
      && !s.isPlainGEMM && 10 * s.usefulMACs >= 6 * computed && s.wideFloats(chunk: 8) >= 256
  }
}

/// acc{j}_{q} of a dW tile: filter j of the block, tap q of the kernel row.
public struct Conv2DTileProductContext: Hashable, Sendable {
  public var j: Int, q: Int
}

/// d{j}: filter j's dy vector, `offset` floats from the block's first wide row.
public struct Conv2DTileOffsetContext: Hashable, Sendable {
  public var j: Int, offset: Int
}

/// One tap of a dW tile's kernel row: its x vector `offset` floats along the padded row, and the products.
public struct Conv2DGradWeightTapContext: Hashable, Sendable {
  public var offset: Int
  public var products: [Conv2DTileProductContext]
}
