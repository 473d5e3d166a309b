// conv2d over a table of shapes, strides, pads, dilations and groups, against a naive formula-level conv.
import KilnIR
import KilnReference
import Testing

@Suite struct ConvolutionSweepTests {
  struct Case: Sendable, CustomTestStringConvertible {
    var batch: Int, channels: Int, height: Int, width: Int
    var filters: Int, kernel: Pair
    var stride = Pair(1), pads = Pads(0), dilation = Pair(1), groups = 1
    var bias = true

    var testDescription: String {
      "N\(batch) C\(channels) \(height)x\(width) F\(filters) k\(kernel) s\(stride) p\(pads) d\(dilation) g\(groups)"
        + (bias ? "" : " nobias")
    }
  }

  static let cases: [Case] = [
    Case(batch: 1, channels: 1, height: 5, width: 5, filters: 1, kernel: Pair(3)),
    Case(batch: 3, channels: 2, height: 7, width: 5, filters: 3, kernel: Pair(3), pads: Pads(1)),
    Case(batch: 2, channels: 3, height: 9, width: 11, filters: 4, kernel: Pair(3, 5), stride: Pair(2, 3)),
    Case(
      batch: 1, channels: 2, height: 8, width: 7, filters: 2, kernel: Pair(2), stride: Pair(2),
      pads: Pads(top: 1, left: 0, bottom: 0, right: 2)),
    Case(
      batch: 2, channels: 4, height: 10, width: 9, filters: 6, kernel: Pair(3), pads: Pads(2), dilation: Pair(2),
      groups: 2),
    Case(
      batch: 1, channels: 6, height: 6, width: 6, filters: 6, kernel: Pair(3), stride: Pair(2), pads: Pads(1),
      groups: 6, bias: false),
    Case(
      batch: 2, channels: 3, height: 13, width: 6, filters: 2, kernel: Pair(5, 1), stride: Pair(3, 1),
      dilation: Pair(2, 1)),
    Case(batch: 4, channels: 1, height: 1, width: 1, filters: 5, kernel: Pair(1)),
    Case(
      batch: 1, channels: 8, height: 5, width: 4, filters: 4, kernel: Pair(2, 3), stride: Pair(1, 2),
      pads: Pads(h: 0, w: 3), dilation: Pair(3, 1), groups: 4),
    Case(batch: 2, channels: 3, height: 11, width: 11, filters: 4, kernel: Pair(11), stride: Pair(4), pads: Pads(2)),
  ]

  @Test(arguments: cases)
  func agreesWithNaiveConvolution(_ c: Case) throws {
    let seed = UInt64(c.batch * 1000 + c.channels * 100 + c.height * 10 + c.width)
    let x = integerTensor([c.batch, c.channels, c.height, c.width], seed: seed)
    let weight = integerTensor([c.filters, c.channels / c.groups, c.kernel.h, c.kernel.w], seed: seed + 1)
    let bias = c.bias ? integerTensor([c.filters], seed: seed + 2) : nil
    let attrs = Conv2D(
      filters: c.filters, kernel: c.kernel, stride: c.stride, padding: .explicit(c.pads), dilation: c.dilation,
      groups: c.groups, bias: c.bias, rounding: .floor)
    let y = try ReferenceOps.conv2d(x, weight: weight, bias: bias, attrs)
    #expect(y == naiveConv(x, weight: weight, bias: bias, c))
  }

  /// The definition, written independently of the library: embed x in an explicitly zero-padded image,
  /// then sum the seven nested loops (n, f, i, j, c, p, q) reading padded[i·s + p·d, j·s + q·d].
  func naiveConv(_ x: Tensor, weight: Tensor, bias: Tensor?, _ c: Case) -> Tensor {
    let paddedH = c.height + c.pads.top + c.pads.bottom
    let paddedW = c.width + c.pads.left + c.pads.right
    var padded = Tensor(zeros: [c.batch, c.channels, paddedH, paddedW])
    for n in 0..<c.batch {
      for ch in 0..<c.channels {
        for r in 0..<c.height {
          for col in 0..<c.width { padded[n, ch, r + c.pads.top, col + c.pads.left] = x[n, ch, r, col] }
        }
      }
    }
    let extentH = c.dilation.h * (c.kernel.h - 1) + 1
    let extentW = c.dilation.w * (c.kernel.w - 1) + 1
    let outH = (paddedH - extentH) / c.stride.h + 1
    let outW = (paddedW - extentW) / c.stride.w + 1
    let perGroupIn = c.channels / c.groups
    let perGroupOut = c.filters / c.groups
    var y = Tensor(zeros: [c.batch, c.filters, outH, outW])
    for n in 0..<c.batch {
      for f in 0..<c.filters {
        for i in 0..<outH {
          for j in 0..<outW {
            var sum: Float = bias?[f] ?? 0
            for ci in 0..<perGroupIn {
              for p in 0..<c.kernel.h {
                for q in 0..<c.kernel.w {
                  let channel = (f / perGroupOut) * perGroupIn + ci
                  sum +=
                    padded[n, channel, i * c.stride.h + p * c.dilation.h, j * c.stride.w + q * c.dilation.w]
                    * weight[f, ci, p, q]
                }
              }
            }
            y[n, f, i, j] = sum
          }
        }
      }
    }
    return y
  }
}
