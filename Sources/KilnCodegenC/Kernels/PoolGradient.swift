// The backward of max, average and global average pooling: ∂L/∂x from dy (and x for max pooling).
import KilnIR

/// Context of `maxpool_gradient.c.mustache`.
public struct MaxPoolGradientContext: KernelContext {
  public static let template = "maxpool_gradient"
  /// The C function name and the text of its leading comment.
  public var name, comment: String
  /// Input channels, height and width per sample.
  public var channels, height, width: Int
  /// Output height and width of the forward pool.
  public var outHeight, outWidth: Int
  /// Window size, step and the padding before the first row and column.
  public var kernelH, kernelW, strideH, strideW, padTop, padLeft: Int
  /// Window cells visited per sample (C·OH·OW·KH·KW, capped), for the parallel threshold.
  public var workPerSample: Int
  /// Below this much work the loop runs on one thread.
  public var parallelThreshold: Int
  /// The windows tile the plane exactly (stride = window, no padding, OH·KH = H, OW·KW = W) and are small
  /// enough to unroll: each window writes its own cells and no zeroing pass is needed.
  public var tiles: Bool
  /// With `tiles`: the window's cells in scan order (offset from the window's first cell, index from 0).
  public var cells: [PoolCellContext]
  /// `cells` without the first, which starts as the pick.
  public var laterCells: [PoolCellContext]

  public static let sample = MaxPoolGradientContext(
    name: "k1_grad_p", comment: "maxpool gradient p", channels: 2, height: 4, width: 4, outHeight: 2, outWidth: 2,
    kernelH: 2, kernelW: 2, strideH: 2, strideW: 2, padTop: 0, padLeft: 0, workPerSample: 32,
    parallelThreshold: elementwiseParallelThreshold, tiles: true,
    cells: PoolCellContext.window(kernelH: 2, kernelW: 2, width: 4),
    laterCells: Array(PoolCellContext.window(kernelH: 2, kernelW: 2, width: 4).dropFirst()))
}

/// One cell of a pooling window, unrolled in a template list section.
public struct PoolCellContext: Hashable, Sendable {
  /// Floats from the window's first cell: r·W + q.
  public var offset: Int
  /// Its place in row-major scan order, from 0.
  public var index: Int

  /// The cells of a `kernelH`×`kernelW` window over rows `width` floats long, in scan order.
  static func window(kernelH: Int, kernelW: Int, width: Int) -> [PoolCellContext] {
    (0..<kernelH).flatMap { r in (0..<kernelW).map { q in PoolCellContext(offset: r * width + q, index: r * kernelW + q) } }
  }
}

/// Context of `avgpool_gradient.c.mustache`.
public struct AvgPoolGradientContext: KernelContext {
  public static let template = "avgpool_gradient"
  /// The C function name and the text of its leading comment.
  public var name, comment: String
  /// Input channels, height and width per sample.
  public var channels, height, width: Int
  /// Output height and width of the forward pool.
  public var outHeight, outWidth: Int
  /// Window size, step and the padding before the first row and column.
  public var kernelH, kernelW, strideH, strideW, padTop, padLeft: Int
  /// H + bottom padding and W + right padding: where a window's counted extent ends (PyTorch's divisor rule).
  public var paddedHeight, paddedWidth: Int
  /// Divide by the window size including padded cells (true) or by the in-bounds cells only (false).
  public var countIncludePad: Bool
  /// Windows visited per sample (C·H·W·⌈KH/SH⌉·⌈KW/SW⌉, capped), for the parallel threshold.
  public var workPerSample: Int
  /// Below this much work the loop runs on one thread.
  public var parallelThreshold: Int

  public static let sample = AvgPoolGradientContext(
    name: "k1_grad_p", comment: "avgpool gradient p", channels: 2, height: 5, width: 5, outHeight: 3,
    outWidth: 3, kernelH: 3, kernelW: 3, strideH: 2, strideW: 2, padTop: 1, padLeft: 1, paddedHeight: 6,
    paddedWidth: 6, countIncludePad: true, workPerSample: 200, parallelThreshold: elementwiseParallelThreshold)
}

/// Context of `global_avgpool_gradient.c.mustache`.
public struct GlobalAvgPoolGradientContext: KernelContext {
  public static let template = "global_avgpool_gradient"
  /// The C function name and the text of its leading comment.
  public var name, comment: String
  /// Channels per sample.
  public var channels: Int
  /// H·W: the values each channel's dy is spread over.
  public var plane: Int
  /// C·H·W, for the parallel threshold.
  public var perSample: Int
  /// Below this many values the loop runs on one thread.
  public var parallelThreshold: Int

  public static let sample = GlobalAvgPoolGradientContext(
    name: "k1_grad_g", comment: "global_avgpool gradient g", channels: 3, plane: 25, perSample: 75,
    parallelThreshold: elementwiseParallelThreshold)
}

/// The gradient kernels of `maxPool`, `avgPool` and `globalAvgPool` toward their input.
enum PoolGradientKernel {
  /// dx of a max pool (operands dy, x) or an average pool (operand dy), with the forward's geometry checks.
  ///
  /// Max: each window's dy goes to the first maximum of its window in row-major scan order (a NaN taking
  /// over, as PyTorch); one thread owns each (sample, channel) plane and adds overlapping windows' shares in
  /// window order, in float. Average: each x cell gathers dy/divisor of every window holding it, in window
  /// order and in double, rounded once, which is the reference's sum exactly.
  static func make(_ node: GradientNode, max: Bool, pool: Pool) throws -> KernelFunction {
    let input = try node.forwardInput(0)
    let g = try PoolKernel.geometry(name: node.name, pool: pool, input: input)
    let inCount = g.channels * g.height * g.width
    let outDims = [g.channels, g.outHeight, g.outWidth]
    _ = try node.operand(0, dims: outDims)
    let definition: String
    var parameters = [KernelParameter("dy", .input, floats: g.channels * g.outHeight * g.outWidth)]
    if max {
      _ = try node.operand(1, dims: input.dims)
      // Up to 4×4 windows unroll; the float pick index is exact far beyond that.
      let tiles =
        pool.stride == pool.kernel && g.pads.top == 0 && g.pads.left == 0 && pool.kernel.h * pool.kernel.w <= 16
        && g.outHeight * pool.kernel.h == g.height && g.outWidth * pool.kernel.w == g.width
      let cells = PoolCellContext.window(kernelH: pool.kernel.h, kernelW: pool.kernel.w, width: g.width)
      parameters.append(KernelParameter("x", .input, floats: inCount))
      definition = TemplateRenderer.shared.render(
        MaxPoolGradientContext(
          name: node.name, comment: "maxpool gradient \(node.layer)", channels: g.channels,
          height: g.height, width: g.width, outHeight: g.outHeight, outWidth: g.outWidth, kernelH: pool.kernel.h,
          kernelW: pool.kernel.w, strideH: pool.stride.h, strideW: pool.stride.w, padTop: g.pads.top,
          padLeft: g.pads.left, workPerSample: g.workPerSample, parallelThreshold: elementwiseParallelThreshold,
          tiles: tiles, cells: tiles ? cells : [], laterCells: tiles ? Array(cells.dropFirst()) : []))
    } else {
      let windowsPerCell =
        ((pool.kernel.h + pool.stride.h - 1) / pool.stride.h)
        * ((pool.kernel.w + pool.stride.w - 1) / pool.stride.w)
      definition = TemplateRenderer.shared.render(
        AvgPoolGradientContext(
          name: node.name, comment: "avgpool gradient \(node.layer)", channels: g.channels,
          height: g.height, width: g.width, outHeight: g.outHeight, outWidth: g.outWidth, kernelH: pool.kernel.h,
          kernelW: pool.kernel.w, strideH: pool.stride.h, strideW: pool.stride.w, padTop: g.pads.top,
          padLeft: g.pads.left, paddedHeight: g.height + g.pads.bottom, paddedWidth: g.width + g.pads.right,
          countIncludePad: pool.countIncludePad, workPerSample: cappedWork(inCount, windowsPerCell),
          parallelThreshold: elementwiseParallelThreshold))
    }
    parameters.append(KernelParameter("dx", .output, floats: inCount))
    return KernelFunction(name: node.name, definition: definition, parameters: parameters)
  }

  /// dx[c, h, w] = dy[c] / (H·W) (in double, rounded once) for a global average pool over [C, H, W].
  static func makeGlobal(_ node: GradientNode) throws -> KernelFunction {
    let input = try node.forwardInput(0)
    let count = try KernelChecks.require(input, "input", ranks: 3...3, layout: "[C, H, W]", kernel: node.name)
    let channels = input.dims[0]
    _ = try node.operand(0, dims: [channels])
    let context = GlobalAvgPoolGradientContext(
      name: node.name, comment: "global_avgpool gradient \(node.layer)", channels: channels,
      plane: count / channels, perSample: count, parallelThreshold: elementwiseParallelThreshold)
    return KernelFunction(
      name: node.name, definition: TemplateRenderer.shared.render(context),
      parameters: [KernelParameter("dy", .input, floats: channels), KernelParameter("dx", .output, floats: count)])
  }
}
