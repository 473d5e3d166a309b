// Index walks shared by the Double forward and the backward of convolution and pooling.
import KilnIR

/// The sizes of one conv2d application and a walk over all its in-bounds taps.
struct ConvGeometry {
  let n: Int, c: Int, h: Int, w: Int
  let f: Int, oh: Int, ow: Int
  let kh: Int, kw: Int
  let attrs: Conv2D
  let pads: Pads
  let outShape: [Int]
  let weightShape: [Int]

  /// Checks the input, weight and bias shapes exactly as `ReferenceOps.conv2d` does.
  init(input: [Int], weight: [Int], hasBias: Bool, biasShape: [Int]?, _ attrs: Conv2D) throws {
    let (outShape, pads) = try Shapes.conv2d(input: input, attrs)
    let weightShape = Shapes.convWeight(channels: input[1], attrs)
    try Shapes.requireShape("conv2d", "weight", weight, weightShape)
    if let biasShape { try Shapes.requireShape("conv2d", "bias", biasShape, [attrs.filters]) }
    (n, c, h, w) = (input[0], input[1], input[2], input[3])
    (f, oh, ow) = (outShape[1], outShape[2], outShape[3])
    (kh, kw) = (attrs.kernel.h, attrs.kernel.w)
    self.attrs = attrs
    self.pads = pads
    self.outShape = outShape
    self.weightShape = weightShape
  }

  /// Calls `body(yIndex, xIndex, wIndex)` for every product x·W that output element yIndex sums, skipping
  /// reads of the zero padding; flat row-major indices into y [N, F, OH, OW], x [N, C, H, W], W [F, C/G, kh, kw].
  func forEachTap(_ body: (Int, Int, Int) -> Void) {
    let cg = c / attrs.groups
    let fg = f / attrs.groups
    var yIndex = 0
    for s in 0..<n {
      for fi in 0..<f {
        let group = fi / fg
        for i in 0..<oh {
          for j in 0..<ow {
            for ci in 0..<cg {
              let xPlane = (s * c + group * cg + ci) * h * w
              let wPlane = (fi * cg + ci) * kh * kw
              for p in 0..<kh {
                let row = i * attrs.stride.h - pads.top + p * attrs.dilation.h
                guard row >= 0 && row < h else { continue }
                for q in 0..<kw {
                  let col = j * attrs.stride.w - pads.left + q * attrs.dilation.w
                  guard col >= 0 && col < w else { continue }
                  body(yIndex, xPlane + row * w + col, wPlane + p * kw + q)
                }
              }
            }
            yIndex += 1
          }
        }
      }
    }
  }
}

/// The sizes of one max or average pooling and a walk over its windows.
struct PoolGeometry {
  let h: Int, w: Int, oh: Int, ow: Int, planes: Int
  let pool: Pool
  let pads: Pads
  let outShape: [Int]

  /// Checks the input exactly as `ReferenceOps.maxPool`/`avgPool` do; `op` names the op in errors.
  init(_ op: String, input: [Int], _ p: Pool) throws {
    let (outShape, pads) = try Shapes.pool(op, input: input, p)
    (h, w, oh, ow) = (input[2], input[3], outShape[2], outShape[3])
    planes = input[0] * input[1]
    pool = p
    self.pads = pads
    self.outShape = outShape
  }

  /// Calls `body(yIndex, cells, poolSize)` per window: `cells` are the flat x indices of its in-bounds cells in
  /// row-major scan order (never empty), `poolSize` PyTorch's count_include_pad divisor for it:
  /// (min(hstart + kh, H + bottom) − hstart)·(likewise w), with hstart = i·sh − top unclipped.
  func forEachWindow(_ body: (Int, [Int], Int) -> Void) {
    var cells: [Int] = []
    cells.reserveCapacity(pool.kernel.h * pool.kernel.w)
    for plane in 0..<planes {
      let base = plane * h * w
      for i in 0..<oh {
        let top = i * pool.stride.h - pads.top
        let rows = max(top, 0)..<min(top + pool.kernel.h, h)
        let hend = min(top + pool.kernel.h, h + pads.bottom)
        for j in 0..<ow {
          let left = j * pool.stride.w - pads.left
          let cols = max(left, 0)..<min(left + pool.kernel.w, w)
          let wend = min(left + pool.kernel.w, w + pads.right)
          cells.removeAll(keepingCapacity: true)
          for r in rows { for c in cols { cells.append(base + r * w + c) } }
          body((plane * oh + i) * ow + j, cells, (hend - top) * (wend - left))
        }
      }
    }
  }

  /// The index among `cells` that max pooling picks: the first maximum in scan order, a NaN taking over as
  /// in PyTorch's `val > maxval || isnan(val)` (so the last NaN when there are several).
  static func argmax(_ cells: [Int], in x: [Double]) -> Int {
    var best = cells[0]
    var bestValue = -Double.infinity
    for i in cells where x[i] > bestValue || x[i].isNaN {
      best = i
      bestValue = x[i]
    }
    return best
  }
}
