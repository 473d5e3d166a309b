// The typed template contexts of the conv2d backward kernels (`conv2d_grad_*.c.mustache`).
import KilnIR

/// Context of `conv2d_grad_bias.c.mustache`: db = the plane sums of dy, one thread per filter.
public struct Conv2DGradBiasContext: KernelContext {
  public static let template = "conv2d_grad_bias"
  public var name: String
  public var comment: String
  public var filters: Int, outPlane: Int
  /// F·OH·OW: the floats of dy per sample, for the parallel threshold.
  public var outputFloats: Int
  public var parallelThreshold: Int

  public static let sample = Conv2DGradBiasContext(
    name: "k1_grad_c1", comment: "conv c1: db", filters: 4, outPlane: 16, outputFloats: 64,
    parallelThreshold: denseParallelThreshold)
}

/// Context of `conv2d_grad_weight_direct.c.mustache`: dW by direct loops, one thread per (filter, channel).
public struct Conv2DGradWeightDirectContext: KernelContext {
  public static let template = "conv2d_grad_weight_direct"
  public var name: String
  public var comment: String
  public var channels: Int, inH: Int, inW: Int
  public var filters: Int, outH: Int, outW: Int
  public var kernelH: Int, kernelW: Int, strideH: Int, strideW: Int, dilationH: Int, dilationW: Int
  public var padTop: Int, padLeft: Int
  public var groups: Int, groupChannels: Int, groupFilters: Int
  public var outPlane: Int
  /// Floats per sample of x, and per group of x.
  public var inputFloats: Int, groupInputFloats: Int
  public var macsPerSample: Int
  public var parallelThreshold: Int

  public static let sample = Conv2DGradWeightDirectContext(
    geometry: Conv2DGradientKernel.sampleGeometry, name: "k1_grad_c1", comment: "conv c1: dW")

  init(geometry g: Conv2DGeometry, name: String, comment: String) {
    self.name = name
    self.comment = comment
    (channels, inH, inW, filters, outH, outW) = (g.channels, g.inH, g.inW, g.filters, g.outH, g.outW)
    (kernelH, kernelW, strideH, strideW) = (g.kernelH, g.kernelW, g.strideH, g.strideW)
    (dilationH, dilationW, padTop, padLeft) = (g.dilationH, g.dilationW, g.padTop, g.padLeft)
    (groups, groupChannels, groupFilters) = (g.groups, g.groupChannels, g.groupFilters)
    outPlane = g.outPlane
    (inputFloats, groupInputFloats) = (g.channels * g.inH * g.inW, g.groupChannels * g.inH * g.inW)
    macsPerSample = g.macsPerSample
    parallelThreshold = denseParallelThreshold
  }
}

/// Context of `conv2d_grad_input_direct.c.mustache`: dx by direct scatter loops, one thread per (image, channel).
public struct Conv2DGradInputDirectContext: KernelContext {
  public static let template = "conv2d_grad_input_direct"
  public var name: String
  public var comment: String
  public var channels: Int, inH: Int, inW: Int
  public var filters: Int, outH: Int, outW: Int
  public var kernelH: Int, kernelW: Int, strideH: Int, strideW: Int, dilationH: Int, dilationW: Int
  public var padTop: Int, padLeft: Int
  public var groups: Int, groupChannels: Int, groupFilters: Int
  public var outPlane: Int
  public var macsPerSample: Int
  public var parallelThreshold: Int

  public static let sample = Conv2DGradInputDirectContext(
    geometry: Conv2DGradientKernel.sampleGeometry, name: "k1_grad_c1", comment: "conv c1: dx")

  init(geometry g: Conv2DGeometry, name: String, comment: String) {
    self.name = name
    self.comment = comment
    (channels, inH, inW, filters, outH, outW) = (g.channels, g.inH, g.inW, g.filters, g.outH, g.outW)
    (kernelH, kernelW, strideH, strideW) = (g.kernelH, g.kernelW, g.strideH, g.strideW)
    (dilationH, dilationW, padTop, padLeft) = (g.dilationH, g.dilationW, g.padTop, g.padLeft)
    (groups, groupChannels, groupFilters) = (g.groups, g.groupChannels, g.groupFilters)
    outPlane = g.outPlane
    macsPerSample = g.macsPerSample
    parallelThreshold = denseParallelThreshold
  }
}

/// Context of `conv2d_grad_weight_gemm.c.mustache`: dW by im2col + `cblas_sgemm` per image, accumulated per slot.
public struct Conv2DGradWeightGemmContext: KernelContext {
  public static let template = "conv2d_grad_weight_gemm"
  public var name: String
  public var comment: String
  public var channels: Int, inH: Int, inW: Int
  public var filters: Int, outH: Int, outW: Int
  public var kernelH: Int, kernelW: Int, strideH: Int, strideW: Int, dilationH: Int, dilationW: Int
  public var padTop: Int, padLeft: Int
  public var groups: Int, groupChannels: Int, groupFilters: Int
  public var depth: Int, outPlane: Int
  /// Floats per sample of x and dy, and per group of x, dy and W.
  public var inputFloats: Int, outputFloats: Int
  public var groupInputFloats: Int, groupOutputFloats: Int, groupWeightFloats: Int
  /// F·Cg·kh·kw: one whole dW (a slot's partial sum).
  public var weightFloats: Int
  /// slots·weightFloats: where the column slots begin in scratch.
  public var partialFloats: Int
  /// Cg·kh·kw·OH·OW: one slot's im2col columns.
  public var columnFloats: Int
  public var slots: Int
  public var macsPerSample: Int
  public var parallelThreshold: Int
  /// Whether the columns are built in scratch (false for a 1×1, stride-1, unpadded kernel).
  public var im2col: Bool

  public static let sample = Conv2DGradWeightGemmContext(
    geometry: Conv2DGradientKernel.sampleGeometry, name: "k1_grad_c1", comment: "conv c1: dW", slots: 2, im2col: true)

  init(geometry g: Conv2DGeometry, name: String, comment: String, slots: Int, im2col: Bool) {
    self.name = name
    self.comment = comment
    (channels, inH, inW, filters, outH, outW) = (g.channels, g.inH, g.inW, g.filters, g.outH, g.outW)
    (kernelH, kernelW, strideH, strideW) = (g.kernelH, g.kernelW, g.strideH, g.strideW)
    (dilationH, dilationW, padTop, padLeft) = (g.dilationH, g.dilationW, g.padTop, g.padLeft)
    (groups, groupChannels, groupFilters) = (g.groups, g.groupChannels, g.groupFilters)
    (depth, outPlane) = (g.depth, g.outPlane)
    (inputFloats, outputFloats) = (g.channels * g.inH * g.inW, g.filters * g.outPlane)
    (groupInputFloats, groupOutputFloats) = (g.groupChannels * g.inH * g.inW, g.groupFilters * g.outPlane)
    groupWeightFloats = g.groupFilters * g.depth
    weightFloats = g.filters * g.depth
    partialFloats = slots * weightFloats
    columnFloats = g.depth * g.outPlane
    self.slots = slots
    macsPerSample = g.macsPerSample
    parallelThreshold = denseParallelThreshold
    self.im2col = im2col
  }
}

/// Context of `conv2d_grad_input_gemm.c.mustache`: dx by `cblas_sgemm` (Wᵀ·dy) per image into columns, then col2im.
public struct Conv2DGradInputGemmContext: KernelContext {
  public static let template = "conv2d_grad_input_gemm"
  public var name: String
  public var comment: String
  public var channels: Int, inH: Int, inW: Int
  public var filters: Int, outH: Int, outW: Int
  public var kernelH: Int, kernelW: Int, strideH: Int, strideW: Int, dilationH: Int, dilationW: Int
  public var padTop: Int, padLeft: Int
  public var groups: Int, groupChannels: Int, groupFilters: Int
  public var depth: Int, outPlane: Int
  /// Floats per sample of x and dy, and per group of x, dy and W.
  public var inputFloats: Int, outputFloats: Int
  public var groupInputFloats: Int, groupOutputFloats: Int, groupWeightFloats: Int
  /// Cg·kh·kw·OH·OW: one slot's columns.
  public var columnFloats: Int
  public var slots: Int
  public var macsPerSample: Int
  public var parallelThreshold: Int
  /// Whether the GEMM writes columns that col2im adds back (false for a 1×1, stride-1, unpadded kernel).
  public var col2im: Bool

  public static let sample = Conv2DGradInputGemmContext(
    geometry: Conv2DGradientKernel.sampleGeometry, name: "k1_grad_c1", comment: "conv c1: dx", slots: 2, col2im: true)

  init(geometry g: Conv2DGeometry, name: String, comment: String, slots: Int, col2im: Bool) {
    self.name = name
    self.comment = comment
    (channels, inH, inW, filters, outH, outW) = (g.channels, g.inH, g.inW, g.filters, g.outH, g.outW)
    (kernelH, kernelW, strideH, strideW) = (g.kernelH, g.kernelW, g.strideH, g.strideW)
    (dilationH, dilationW, padTop, padLeft) = (g.dilationH, g.dilationW, g.padTop, g.padLeft)
    (groups, groupChannels, groupFilters) = (g.groups, g.groupChannels, g.groupFilters)
    (depth, outPlane) = (g.depth, g.outPlane)
    (inputFloats, outputFloats) = (g.channels * g.inH * g.inW, g.filters * g.outPlane)
    (groupInputFloats, groupOutputFloats) = (g.groupChannels * g.inH * g.inW, g.groupFilters * g.outPlane)
    groupWeightFloats = g.groupFilters * g.depth
    columnFloats = g.depth * g.outPlane
    self.slots = slots
    macsPerSample = g.macsPerSample
    parallelThreshold = denseParallelThreshold
    self.col2im = col2im
  }
}
