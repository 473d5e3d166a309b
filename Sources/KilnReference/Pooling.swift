// The reference pooling ops: max, average (with PyTorch's divisor rules) and global average.
import KilnIR

extension ReferenceOps {
  /// nn.MaxPool2d: y[n, c, i, j] = max over the window rows i·sh − top ..< +kh, cols j·sw − left ..< +kw,
  /// clipped to the input. Padded cells never win (they are −∞), and ceil-mode windows that overhang the
  /// input are clipped. Output size from `p.window` (exact/floor/ceil rounding).
  /// - Parameter x: [N, C, H, W].
  public static func maxPool(_ x: Tensor, _ p: Pool) throws -> Tensor {
    let (outShape, pads) = try Shapes.pool("maxpool", input: x.shape, p)
    return pool(x, outShape: outShape, pads: pads, p) { window, _ in
      var best = -Float.infinity
      for v in window where v > best || v.isNaN { best = v }  // NaN propagates, as in PyTorch
      return best
    }
  }

  /// nn.AvgPool2d, following PyTorch's divisor rule exactly:
  ///
  ///     hstart = i·sh − top;  hend = min(hstart + kh, H + bottom)   (likewise w)
  ///     poolSize = (hend − hstart)·(wend − wstart)                  (padding counted, overhang not)
  ///     clip hstart, hend to [0, H] (likewise w)
  ///     y = Σ window / (countIncludePad ? poolSize : (hend − hstart)·(wend − wstart))
  /// - Parameter x: [N, C, H, W].
  public static func avgPool(_ x: Tensor, _ p: Pool) throws -> Tensor {
    let (outShape, pads) = try Shapes.pool("avgpool", input: x.shape, p)
    let (h, w) = (x.shape[2], x.shape[3])
    return pool(x, outShape: outShape, pads: pads, p) { window, origin in
      let hend = min(origin.h + p.kernel.h, h + pads.bottom)
      let wend = min(origin.w + p.kernel.w, w + pads.right)
      let poolSize = (hend - origin.h) * (wend - origin.w)
      var sum = 0.0
      for v in window { sum += Double(v) }
      let divisor = p.countIncludePad ? poolSize : window.count
      return Float(sum / Double(divisor))
    }
  }

  /// Mean over H and W (nn.AdaptiveAvgPool2d(1) then flatten): [N, C, H, W] → [N, C].
  public static func globalAvgPool(_ x: Tensor) throws -> Tensor {
    let outShape = try Shapes.globalAvgPool(input: x.shape)
    let plane = x.shape[2] * x.shape[3]
    var y = [Float](repeating: 0, count: outShape[0] * outShape[1])
    for k in y.indices {
      var sum = 0.0
      for v in x.data[(k * plane)..<((k + 1) * plane)] { sum += Double(v) }
      y[k] = Float(sum / Double(plane))
    }
    return Tensor(shape: outShape, data: y)
  }

  /// Applies `reduce` to the in-bounds cells of every pooling window. `reduce` receives those cells
  /// (row-major, never empty: `Shapes.pool` rejects windows wholly in the padding) and the unclipped
  /// window origin (hstart, wstart), which may be negative.
  private static func pool(
    _ x: Tensor, outShape: [Int], pads: Pads, _ p: Pool, reduce: ([Float], Pair) -> Float
  ) -> Tensor {
    let (h, w) = (x.shape[2], x.shape[3])
    let (oh, ow) = (outShape[2], outShape[3])
    let planes = x.shape[0] * x.shape[1]
    var y = [Float](repeating: 0, count: outShape.reduce(1, *))
    var window: [Float] = []
    window.reserveCapacity(p.kernel.h * p.kernel.w)
    for plane in 0..<planes {
      let base = plane * h * w
      for i in 0..<oh {
        let top = i * p.stride.h - pads.top
        let rows = max(top, 0)..<min(top + p.kernel.h, h)
        for j in 0..<ow {
          let left = j * p.stride.w - pads.left
          let cols = max(left, 0)..<min(left + p.kernel.w, w)
          window.removeAll(keepingCapacity: true)
          for r in rows { for c in cols { window.append(x.data[base + r * w + c]) } }
          y[(plane * oh + i) * ow + j] = reduce(window, Pair(top, left))
        }
      }
    }
    return Tensor(shape: outShape, data: y)
  }
}
