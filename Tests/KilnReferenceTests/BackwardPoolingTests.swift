// Max, average and global pooling (overlapping windows, padding, ceil mode), reshape, concat, add and mul:
// VJPs against central differences in Double, and the Float VJPs against the Double ones.
import KilnIR
import KilnReference
import Testing

func maxPoolCase(_ x: [Int], _ p: Pool) -> VJPCase {
  VJPCase(
    name: "maxpool \(p.kernel) stride \(p.stride) pads \(p.padding) \(p.rounding) x\(x)",
    inputs: [randomDoubles(x, seed: UInt64(x.reduce(1, *) + p.kernel.h))],
    forward: { try DoubleReferenceOps.maxPool($0[0], p) },
    vjp: { [try ReferenceGradients.maxPool(dy: $1, x: $0[0], p)] },
    floatVJP: { [try ReferenceGradients.maxPool(dy: $1, x: $0[0], p)] },
    // The winners: how many windows each cell wins (a near-tie moves a win from one cell to another).
    pieces: { xs in
      let out = try DoubleReferenceOps.maxPool(xs[0], p)
      var ones = DoubleTensor(zeros: out.shape)
      ones.data = ones.data.map { _ in 1 }
      return try ReferenceGradients.maxPool(dy: ones, x: xs[0], p).data.map { Int($0) }
    })
}

func avgPoolCase(_ x: [Int], _ p: Pool) -> VJPCase {
  VJPCase(
    name:
      "avgpool \(p.kernel) stride \(p.stride) pads \(p.padding) \(p.rounding) includePad \(p.countIncludePad) x\(x)",
    inputs: [randomDoubles(x, seed: UInt64(x.reduce(1, *) + 2 * p.kernel.h))],
    forward: { try DoubleReferenceOps.avgPool($0[0], p) },
    vjp: { [try ReferenceGradients.avgPool(dy: $1, inputShape: $0[0].shape, p)] },
    floatVJP: { [try ReferenceGradients.avgPool(dy: $1, inputShape: $0[0].shape, p)] })
}

@Suite struct BackwardPoolingTests {
  static let poolCases = [
    maxPoolCase([1, 2, 4, 4], Pool(kernel: Pair(2))),
    maxPoolCase([3, 2, 5, 5], Pool(kernel: Pair(3), stride: Pair(1))),
    maxPoolCase([3, 1, 6, 6], Pool(kernel: Pair(3), stride: Pair(2), padding: .explicit(Pads(1)), rounding: .ceil)),
    maxPoolCase([2, 2, 5, 7], Pool(kernel: Pair(2, 3), stride: Pair(2), rounding: .ceil)),
    avgPoolCase([3, 2, 6, 6], Pool(kernel: Pair(3), stride: Pair(2), padding: .explicit(Pads(1)), rounding: .ceil)),
    avgPoolCase(
      [1, 2, 5, 5],
      Pool(kernel: Pair(3), stride: Pair(2), padding: .explicit(Pads(1)), rounding: .ceil, countIncludePad: false)),
    avgPoolCase([3, 1, 4, 5], Pool(kernel: Pair(2), stride: Pair(1))),
    avgPoolCase(
      [2, 2, 7, 5], Pool(kernel: Pair(3, 2), stride: Pair(2, 1), padding: .explicit(Pads(h: 1, w: 0)), rounding: .floor)
    ),
  ]

  static let shapeCases: [VJPCase] = [
    VJPCase(
      name: "global_avgpool [3, 4, 3, 2]", inputs: [randomDoubles([3, 4, 3, 2], seed: 31)],
      forward: { try DoubleReferenceOps.globalAvgPool($0[0]) },
      vjp: { [try ReferenceGradients.globalAvgPool(dy: $1, inputShape: $0[0].shape)] },
      floatVJP: { [try ReferenceGradients.globalAvgPool(dy: $1, inputShape: $0[0].shape)] }),
    VJPCase(
      name: "reshape [2, 3, 4] → [2, 4, 3]", inputs: [randomDoubles([2, 3, 4], seed: 32)],
      forward: { try DoubleTensor(shape: [2, 4, 3], data: $0[0].data) },
      vjp: { [try ReferenceGradients.reshape(dy: $1, inputShape: $0[0].shape)] },
      floatVJP: { [try ReferenceGradients.reshape(dy: $1, inputShape: $0[0].shape)] }),
    VJPCase(
      name: "concat [2, 1|2|3, 3, 3]",
      inputs: [
        randomDoubles([2, 1, 3, 3], seed: 33), randomDoubles([2, 2, 3, 3], seed: 34),
        randomDoubles([2, 3, 3, 3], seed: 35),
      ],
      forward: { try DoubleReferenceOps.concat($0) },
      vjp: { xs, dy in try ReferenceGradients.concat(dy: dy, inputShapes: xs.map(\.shape)) },
      floatVJP: { xs, dy in try ReferenceGradients.concat(dy: dy, inputShapes: xs.map(\.shape)) }),
    VJPCase(
      name: "concat [3, 2|4]", inputs: [randomDoubles([3, 2], seed: 36), randomDoubles([3, 4], seed: 37)],
      forward: { try DoubleReferenceOps.concat($0) },
      vjp: { xs, dy in try ReferenceGradients.concat(dy: dy, inputShapes: xs.map(\.shape)) },
      floatVJP: { xs, dy in try ReferenceGradients.concat(dy: dy, inputShapes: xs.map(\.shape)) }),
    VJPCase(
      name: "add [2, 3, 4]", inputs: [randomDoubles([2, 3, 4], seed: 38), randomDoubles([2, 3, 4], seed: 39)],
      forward: { try DoubleReferenceOps.add($0[0], $0[1]) },
      vjp: { xs, dy in
        let r = try ReferenceGradients.add(dy: dy, shape: xs[0].shape)
        return [r.da, r.db]
      },
      floatVJP: { xs, dy in
        let r = try ReferenceGradients.add(dy: dy, shape: xs[0].shape)
        return [r.da, r.db]
      }),
    VJPCase(
      name: "mul [3, 5]", inputs: [randomDoubles([3, 5], seed: 40), randomDoubles([3, 5], seed: 41)],
      forward: { try DoubleReferenceOps.mul($0[0], $0[1]) },
      vjp: { xs, dy in
        let r = try ReferenceGradients.mul(dy: dy, a: xs[0], b: xs[1])
        return [r.da, r.db]
      },
      floatVJP: { xs, dy in
        let r = try ReferenceGradients.mul(dy: dy, a: xs[0], b: xs[1])
        return [r.da, r.db]
      }),
  ]

  @Test(arguments: poolCases + shapeCases)
  func vjpMatchesCentralDifferences(_ c: VJPCase) throws { try expectFiniteDifferences(c) }

  @Test(arguments: poolCases + shapeCases)
  func floatVJPAgreesWithDouble(_ c: VJPCase) throws { try expectFloatAgrees(c) }

  /// Max pooling sends each gradient to the FIRST maximum in scan order, as PyTorch does on ties; and
  /// overlapping windows that share a winner add their gradients there.
  @Test func tiesGoToTheFirstMaximum() throws {
    let x = Tensor(shape: [1, 1, 2, 3], data: [5, 5, 1, 5, 0, 5])
    // kernel 2, stride 1: windows {5, 5, 5, 0} and {5, 1, 0, 5}; both pick flat index 0 and 1 respectively.
    let dx = try ReferenceGradients.maxPool(
      dy: Tensor(shape: [1, 1, 1, 2], data: [1, 10]), x: x, Pool(kernel: Pair(2), stride: Pair(1)))
    #expect(dx.data == [1, 10, 0, 0, 0, 0])
    let shared = try ReferenceGradients.maxPool(
      dy: Tensor(shape: [1, 1, 1, 2], data: [1, 10]), x: Tensor(shape: [1, 1, 2, 3], data: [0, 9, 0, 0, 0, 0]),
      Pool(kernel: Pair(2), stride: Pair(1)))
    #expect(shared.data == [0, 11, 0, 0, 0, 0])
  }
}
