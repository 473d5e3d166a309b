// The reference 2-D convolution: grouped, dilated, strided cross-correlation with per-side padding.
import KilnIR

extension ReferenceOps {
  /// nn.Conv2d (cross-correlation, no kernel flip), then the fused activation `attrs.activation`.
  ///
  /// With G = groups, Cg = C/G input channels and Fg = F/G filters per group, output channel f reads the
  /// input channels of its group g = ⌊f/Fg⌋:
  ///
  ///     y[n, f, i, j] = b[f] + Σ_{c<Cg, p<kh, q<kw} x[n, g·Cg + c, i·sh − top + p·dh, j·sw − left + q·dw] · W[f, c, p, q]
  ///
  /// where reads outside the input are the zero padding. Output size and per-side pads come from
  /// `attrs.window` (same/valid/explicit padding; exact/floor rounding).
  /// - Parameters:
  ///   - x: [N, C, H, W].
  ///   - weight: [F, C/groups, kh, kw] (PyTorch layout).
  ///   - bias: [F], or nil for none.
  public static func conv2d(_ x: Tensor, weight: Tensor, bias: Tensor?, _ attrs: Conv2D) throws -> Tensor {
    let (outShape, pads) = try Shapes.conv2d(input: x.shape, attrs)
    try Shapes.requireShape("conv2d", "weight", weight.shape, Shapes.convWeight(channels: x.shape[1], attrs))
    if let bias { try Shapes.requireShape("conv2d", "bias", bias.shape, [attrs.filters]) }

    let (n, c, h, w) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
    let (f, oh, ow) = (outShape[1], outShape[2], outShape[3])
    let (kh, kw) = (attrs.kernel.h, attrs.kernel.w)
    let (sh, sw) = (attrs.stride.h, attrs.stride.w)
    let (dh, dw) = (attrs.dilation.h, attrs.dilation.w)
    let cg = c / attrs.groups
    let fg = f / attrs.groups
    // Row-major strides of x [N, C, H, W] and W [F, Cg, kh, kw].
    let (xs0, xs1) = (c * h * w, h * w)
    let (ws0, ws1) = (cg * kh * kw, kh * kw)

    var y = [Float](repeating: 0, count: outShape.reduce(1, *))
    x.data.withUnsafeBufferPointer { xp in
      weight.data.withUnsafeBufferPointer { wp in
        var o = 0
        for s in 0..<n {
          for fi in 0..<f {
            let group = fi / fg
            for i in 0..<oh {
              for j in 0..<ow {
                var acc = 0.0
                for ci in 0..<cg {
                  let xPlane = s * xs0 + (group * cg + ci) * xs1
                  let wPlane = fi * ws0 + ci * ws1
                  for p in 0..<kh {
                    let row = i * sh - pads.top + p * dh
                    guard row >= 0 && row < h else { continue }
                    for q in 0..<kw {
                      let col = j * sw - pads.left + q * dw
                      guard col >= 0 && col < w else { continue }
                      acc += Double(xp[xPlane + row * w + col]) * Double(wp[wPlane + p * kw + q])
                    }
                  }
                }
                if let bias { acc += Double(bias.data[fi]) }
                y[o] = Float(acc)
                o += 1
              }
            }
          }
        }
      }
    }
    return try activation(Tensor(shape: outShape, data: y), attrs.activation)
  }
}
