// Pooling: the course's example, PyTorch's padding / ceil-mode / divisor rules on hand cases, and constants.
import KilnIR
import KilnReference
import Testing

@Suite struct PoolingTests {
  @Test func courseFourByFourMaxPool() throws {
    let x = tensor([1, 1, 4, 4], [[1, 1, 2, 4], [5, 6, 7, 8], [3, 2, 1, 0], [1, 2, 3, 4]])
    #expect(try ReferenceOps.maxPool(x, Pool(kernel: Pair(2))) == tensor([1, 1, 2, 2], [[6, 8], [3, 4]]))
  }

  /// 1…25 in a 5×5 map, 2×2 windows at stride 2 in ceil mode: the last row and column of windows overhang
  /// the input by one cell, which is clipped (and, without padding, not counted in the divisor).
  @Test func ceilModeWindowsOverhangAndAreClipped() throws {
    let x = Tensor(shape: [1, 1, 5, 5], data: (1...25).map(Float.init))
    let p = Pool(kernel: Pair(2), rounding: .ceil)
    #expect(try ReferenceOps.maxPool(x, p) == tensor([1, 1, 3, 3], [[7, 9, 10], [17, 19, 20], [22, 24, 25]]))
    #expect(
      try ReferenceOps.avgPool(x, p) == tensor([1, 1, 3, 3], [[4, 6, 7.5], [14, 16, 17.5], [21.5, 23.5, 25]]))
    var exact = p
    exact.rounding = .exact
    #expect(throws: ReferenceError.self) { try ReferenceOps.avgPool(x, exact) }
  }

  /// Input 1…6 in a 1×6 map; 3×3 windows, stride 2, padding 1, ceil mode → 1×4 windows at columns
  /// −1…1, 1…3, 3…5 and 5…7, the last reaching one column past the right padding.
  /// count_include_pad counts padding (3 rows × 3, 3, 3, 2 columns) but never the overhang;
  /// without it the divisor is the in-bounds area (1 row × 2, 3, 3, 1 columns).
  @Test func averageDivisorFollowsPyTorch() throws {
    let x = tensor([1, 1, 1, 6], [1, 2, 3, 4, 5, 6])
    var p = Pool(kernel: Pair(3), stride: Pair(2), padding: .explicit(Pads(1)), rounding: .ceil)
    expectClose(try ReferenceOps.avgPool(x, p), tensor([1, 1, 1, 4], [3.0 / 9, 9.0 / 9, 15.0 / 9, 6.0 / 6]))
    p.countIncludePad = false
    #expect(try ReferenceOps.avgPool(x, p) == tensor([1, 1, 1, 4], [1.5, 3, 5, 6]))
  }

  @Test func paddedCellsNeverWinTheMax() throws {
    let x = tensor([1, 1, 2, 3], [[-5, -4, -3], [-2, -1, -6]])
    let p = Pool(kernel: Pair(2), stride: Pair(1), padding: .explicit(Pads(1)))
    // Each window's max is its largest in-bounds cell, never the zero padding.
    #expect(
      try ReferenceOps.maxPool(x, p)
        == tensor([1, 1, 3, 4], [[-5, -4, -3, -3], [-2, -1, -1, -3], [-2, -1, -1, -6]]))
  }

  struct ConstantCase: Sendable, CustomTestStringConvertible {
    var height: Int, width: Int, kernel: Int, stride: Int, pad: Int, rounding: Rounding
    var testDescription: String { "\(height)x\(width) k\(kernel) s\(stride) p\(pad) \(rounding.rawValue)" }
  }

  @Test(arguments: [
    ConstantCase(height: 4, width: 4, kernel: 2, stride: 2, pad: 0, rounding: .exact),
    ConstantCase(height: 5, width: 7, kernel: 3, stride: 2, pad: 1, rounding: .exact),
    ConstantCase(height: 6, width: 5, kernel: 3, stride: 2, pad: 1, rounding: .ceil),
    ConstantCase(height: 7, width: 7, kernel: 2, stride: 3, pad: 1, rounding: .floor),
    ConstantCase(height: 3, width: 8, kernel: 3, stride: 1, pad: 1, rounding: .exact),
  ])
  func poolingAConstantGivesTheConstant(_ c: ConstantCase) throws {
    let x = Tensor(repeating: -2.5, shape: [2, 3, c.height, c.width])
    let p = Pool(
      kernel: Pair(c.kernel), stride: Pair(c.stride), padding: .explicit(Pads(c.pad)), rounding: c.rounding,
      countIncludePad: false)
    for y in [try ReferenceOps.maxPool(x, p), try ReferenceOps.avgPool(x, p)] {
      #expect(y.data.allSatisfy { $0 == -2.5 })
      #expect(!y.data.isEmpty)
    }
    if c.pad > 0 {
      // Counting the zero padding pulls the corner average towards 0.
      var include = p
      include.countIncludePad = true
      #expect(try ReferenceOps.avgPool(x, include).data[0] > -2.5)
    }
  }

  @Test func globalAveragePoolAveragesEachPlane() throws {
    let x = Tensor(shape: [2, 3, 2, 2], data: (0..<24).map(Float.init))
    #expect(try ReferenceOps.globalAvgPool(x) == tensor([2, 3], [1.5, 5.5, 9.5, 13.5, 17.5, 21.5]))
    #expect(throws: ReferenceError.self) { try ReferenceOps.globalAvgPool(Tensor(zeros: [2, 3])) }
  }

  @Test func windowsWhollyInThePaddingAreRejected() throws {
    let x = Tensor(zeros: [1, 1, 4, 4])
    let error = #expect(throws: ReferenceError.self) {
      try ReferenceOps.maxPool(x, Pool(kernel: Pair(2), padding: .explicit(Pads(2))))
    }
    #expect(error?.message.contains("wholly in the padding") == true)
    #expect(throws: ReferenceError.self) { try ReferenceOps.avgPool(Tensor(zeros: [1, 4, 4]), Pool(kernel: Pair(2))) }
  }
}
