// The max and average pooling kernels over [C, H, W] samples, with PyTorch's padding, rounding and divisor rules.
import KilnIR

/// Context of `maxpool.c.mustache`.
public struct MaxPoolContext: KernelContext {
  public static let template = "maxpool"
  /// The C function name and the text of its leading comment.
  public var name, comment: String
  /// Input channels, height and width per sample.
  public var channels, height, width: Int
  /// Output height and width (the channels are the input's).
  public var outHeight, outWidth: Int
  /// Window size, step and the padding before the first row and column.
  public var kernelH, kernelW, strideH, strideW, padTop, padLeft: Int
  /// Window cells visited per sample (C·OH·OW·KH·KW, capped at `Int32.max`), for the parallel threshold.
  public var workPerSample: Int
  /// Below this much work the loop runs on one thread.
  public var parallelThreshold: Int

  /// No padding, every window inside the plane, at most 25 cells: the unrolled, vectorizable loop.
  public var inBounds: Bool
  /// With `inBounds`: the window's cells after the first, in scan order.
  public var laterCells: [PoolTapContext]

  public static let sample = MaxPoolContext(
    name: "k1_maxpool_p", comment: "maxpool p", channels: 2, height: 4, width: 4, outHeight: 2, outWidth: 2,
    kernelH: 2, kernelW: 2, strideH: 2, strideW: 2, padTop: 0, padLeft: 0, workPerSample: 32,
    parallelThreshold: elementwiseParallelThreshold, inBounds: true,
    laterCells: PoolTapContext.laterCells(kernelH: 2, kernelW: 2, width: 4))
}

/// Context of `avgpool.c.mustache`.
public struct AvgPoolContext: KernelContext {
  public static let template = "avgpool"
  /// The C function name and the text of its leading comment.
  public var name, comment: String
  /// Input channels, height and width per sample.
  public var channels, height, width: Int
  /// Output height and width (the channels are the input's).
  public var outHeight, outWidth: Int
  /// Window size, step and the padding before the first row and column.
  public var kernelH, kernelW, strideH, strideW, padTop, padLeft: Int
  /// H + bottom padding and W + right padding: where a window's counted extent ends (PyTorch's divisor rule).
  public var paddedHeight, paddedWidth: Int
  /// Divide by the window size including padded cells (true) or by the in-bounds cells only (false).
  public var countIncludePad: Bool
  /// Window cells visited per sample (C·OH·OW·KH·KW, capped at `Int32.max`), for the parallel threshold.
  public var workPerSample: Int
  /// Below this much work the loop runs on one thread.
  public var parallelThreshold: Int

  public static let sample = AvgPoolContext(
    name: "k1_avgpool_p", comment: "avgpool p", channels: 2, height: 5, width: 5, outHeight: 3, outWidth: 3,
    kernelH: 3, kernelW: 3, strideH: 2, strideW: 2, padTop: 1, padLeft: 1, paddedHeight: 6, paddedWidth: 6,
    countIncludePad: true, workPerSample: 162, parallelThreshold: elementwiseParallelThreshold)
}

/// The kernels of `maxPool` and `avgPool`.
public enum PoolKernel {
  /// Output size and pads of a pool over one [C, H, W] sample, checked as the reference checks them.
  struct Geometry {
    var channels, height, width, outHeight, outWidth: Int
    var pads: Pads
    var workPerSample: Int
  }

  /// A max pool (`max`) or average pool over `input` = [C, H, W] per sample; the output is [C, OH, OW] with
  /// OH, OW from `pool.window`. Padded cells never win a max, a NaN in a window does (as in PyTorch); the
  /// average divides by PyTorch's divisor (see `ReferenceOps.avgPool`), summing in double.
  /// - Throws: `KernelShapeError` when the input is not [C, H, W], a kernel or stride is below 1, a pad is
  ///   negative, the window does not fit under `pool.rounding`, or some window lies wholly in the padding.
  public static func make(name: String, max: Bool, pool: Pool, input: TensorType) throws -> KernelFunction {
    let op = max ? "maxpool" : "avgpool"
    let g = try geometry(name: name, pool: pool, input: input)
    let definition: String
    if max {
      let unpadded = g.pads.top == 0 && g.pads.left == 0 && g.pads.bottom == 0 && g.pads.right == 0
      let inBounds =
        unpadded && pool.kernel.h * pool.kernel.w <= 25
        && (g.outHeight - 1) * pool.stride.h + pool.kernel.h <= g.height
        && (g.outWidth - 1) * pool.stride.w + pool.kernel.w <= g.width
      definition = TemplateRenderer.shared.render(
        MaxPoolContext(
          name: name, comment: "\(op) \(name)", channels: g.channels, height: g.height, width: g.width,
          outHeight: g.outHeight, outWidth: g.outWidth, kernelH: pool.kernel.h, kernelW: pool.kernel.w,
          strideH: pool.stride.h, strideW: pool.stride.w, padTop: g.pads.top, padLeft: g.pads.left,
          workPerSample: g.workPerSample, parallelThreshold: elementwiseParallelThreshold, inBounds: inBounds,
          laterCells: inBounds
            ? PoolTapContext.laterCells(kernelH: pool.kernel.h, kernelW: pool.kernel.w, width: g.width) : []))
    } else {
      definition = TemplateRenderer.shared.render(
        AvgPoolContext(
          name: name, comment: "\(op) \(name)", channels: g.channels, height: g.height, width: g.width,
          outHeight: g.outHeight, outWidth: g.outWidth, kernelH: pool.kernel.h, kernelW: pool.kernel.w,
          strideH: pool.stride.h, strideW: pool.stride.w, padTop: g.pads.top, padLeft: g.pads.left,
          paddedHeight: g.height + g.pads.bottom, paddedWidth: g.width + g.pads.right,
          countIncludePad: pool.countIncludePad, workPerSample: g.workPerSample,
          parallelThreshold: elementwiseParallelThreshold))
    }
    return KernelFunction(
      name: name, definition: definition,
      parameters: [
        KernelParameter("x", .input, floats: g.channels * g.height * g.width),
        KernelParameter("y", .output, floats: g.channels * g.outHeight * g.outWidth),
      ])
  }

  static func geometry(name: String, pool: Pool, input: TensorType) throws -> Geometry {
    try KernelChecks.require(input, "input", ranks: 3...3, layout: "[C, H, W]", kernel: name)
    let (c, h, w) = (input.dims[0], input.dims[1], input.dims[2])
    guard pool.kernel.h >= 1, pool.kernel.w >= 1, pool.stride.h >= 1, pool.stride.w >= 1 else {
      throw KernelShapeError(
        kernel: name, "kernel \(pool.kernel) and stride \(pool.stride) must be at least 1")
    }
    let window = pool.window
    let pads = window.pads(inputH: h, inputW: w)
    guard pads.top >= 0, pads.left >= 0, pads.bottom >= 0, pads.right >= 0 else {
      throw KernelShapeError(kernel: name, "padding \(pads) must not be negative")
    }
    let out: Pair
    switch window.outputSize(inputH: h, inputW: w) {
    case .success(let size): out = size
    case .failure(let e): throw KernelShapeError(kernel: name, "input \(input): \(e)")
    }
    // NOTE: a window wholly in the padding would have no cell to take the max of (−∞) or to average over
    // (0/0). The first window starts at −pad, the last at (out − 1)·stride − pad.
    let lastTop = (out.h - 1) * pool.stride.h - pads.top
    let lastLeft = (out.w - 1) * pool.stride.w - pads.left
    guard pads.top < pool.kernel.h, pads.left < pool.kernel.w, lastTop < h, lastLeft < w else {
      throw KernelShapeError(
        kernel: name,
        "with padding \(pads) some \(pool.kernel) windows over input \(input) lie wholly in the padding;"
          + " expected padding of at most half the kernel")
    }
    let outType = TensorType(.f32, [c, out.h, out.w])
    try KernelChecks.require(outType, "output", ranks: 3...3, layout: "[C, OH, OW]", kernel: name)
    let cells = pool.kernel.h.multipliedReportingOverflow(by: pool.kernel.w)
    let work = outType.elementCount.multipliedReportingOverflow(by: cells.partialValue)
    let cap = Int(Int32.max)
    return Geometry(
      channels: c, height: h, width: w, outHeight: out.h, outWidth: out.w, pads: pads,
      workPerSample: cells.overflow || work.overflow ? cap : Swift.min(work.partialValue, cap))
  }
}

/// One cell of a max-pool window after the first, unrolled in the forward kernel's list section.
public struct PoolTapContext: Hashable, Sendable {
  /// Floats from the window's first cell: r·W + q.
  public var offset: Int

  /// The cells of a `kernelH`×`kernelW` window over rows `width` floats long after the first, in scan order.
  static func laterCells(kernelH: Int, kernelW: Int, width: Int) -> [PoolTapContext] {
    PoolCellContext.window(kernelH: kernelH, kernelW: kernelW, width: width).dropFirst().map {
      PoolTapContext(offset: $0.offset)
    }
  }
}
