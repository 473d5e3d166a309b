// Convolution: the course's worked examples exactly, identities, and a sweep against a naive 7-loop formula.
import KilnIR
import KilnReference
import Testing

@Suite struct ConvolutionTests {
  static let image = tensor(
    [1, 1, 6, 6],
    [
      [1, 0, 0, 0, 0, 1], [0, 1, 0, 0, 1, 0], [0, 0, 1, 1, 0, 0],
      [1, 0, 0, 0, 1, 0], [0, 1, 0, 0, 1, 0], [0, 0, 1, 0, 1, 0],
    ])
  static let filter1: [[Float]] = [[1, -1, -1], [-1, 1, -1], [-1, -1, 1]]
  static let filter2: [[Float]] = [[-1, 1, -1], [-1, 1, -1], [-1, 1, -1]]

  @Test func courseSixBySixImageTwoFiltersStrideOne() throws {
    let weight = tensor([2, 1, 3, 3], Self.filter1 + Self.filter2)
    let y = try ReferenceOps.conv2d(
      Self.image, weight: weight, bias: nil, Conv2D(filters: 2, kernel: Pair(3), bias: false))
    let expected = tensor(
      [1, 2, 4, 4],
      [
        [3, -1, -3, -1], [-3, 1, 0, -3], [-3, -3, 0, 1], [3, -2, -2, -1],
        [-1, -1, -1, -1], [-1, -1, -2, 1], [-1, -1, -2, 1], [-1, 0, -4, 3],
      ])
    #expect(y == expected)
    // The 2×2 stride-2 max pool of both maps.
    let pooled = try ReferenceOps.maxPool(y, Pool(kernel: Pair(2)))
    #expect(pooled == tensor([1, 2, 2, 2], [[3, 0], [3, 1], [-1, 1], [0, 3]]))
  }

  @Test func courseStrideTwoNeedsFloorRounding() throws {
    let weight = tensor([1, 1, 3, 3], Self.filter1)
    let floor = Conv2D(filters: 1, kernel: Pair(3), stride: Pair(2), bias: false, rounding: .floor)
    #expect(
      try ReferenceOps.conv2d(Self.image, weight: weight, bias: nil, floor)
        == tensor([1, 1, 2, 2], [[3, -3], [-3, 0]]))
    // (6 − 3)/2 + 1 = 2.5: exact rounding says the window does not fit rather than flooring silently.
    var exact = floor
    exact.rounding = .exact
    let error = #expect(throws: ReferenceError.self) {
      try ReferenceOps.conv2d(Self.image, weight: weight, bias: nil, exact)
    }
    #expect(error?.message.contains("does not fit") == true)
  }

  @Test func courseThreeChannelsPaddingOneStrideTwo() throws {
    // The slide is channels-last, x[:, :, c]; these are the three channel planes, i.e. NCHW directly.
    let x = tensor(
      [1, 3, 5, 5],
      [
        [1, 2, 0, 0, 0], [2, 2, 0, 0, 0], [2, 2, 2, 1, 0], [1, 0, 0, 2, 0], [1, 1, 0, 1, 0],
        [1, 0, 0, 1, 0], [1, 0, 0, 0, 1], [0, 0, 1, 2, 0], [0, 1, 0, 1, 0], [1, 1, 1, 1, 2],
        [0, 0, 2, 2, 2], [1, 2, 2, 2, 0], [1, 1, 1, 1, 0], [1, 2, 0, 0, 0], [2, 2, 2, 1, 0],
      ])
    let w1 = tensor(
      [1, 3, 3, 3],
      [
        [-1, 0, 0], [1, -1, -1], [0, 0, -1],
        [-1, 0, 1], [1, -1, 1], [-1, 0, 1],
        [-1, -1, -1], [-1, 1, -1], [0, 1, -1],
      ])
    let attrs = Conv2D(filters: 1, kernel: Pair(3), stride: Pair(2), padding: .explicit(Pads(1)))
    let y = try ReferenceOps.conv2d(x, weight: w1, bias: tensor([1], [0]), attrs)
    #expect(y == tensor([1, 1, 3, 3], [[-7, 3, 1], [-7, -11, -1], [-4, -2, -4]]))
  }

  @Test func courseSobelKernelFindsTheEdge() throws {
    let x = tensor(
      [1, 1, 6, 6],
      Array(repeating: [10, 10, 10, 10, 10, 10], count: 3) + Array(repeating: [0, 0, 0, 0, 0, 0], count: 3))
    let sobel = tensor([1, 1, 3, 3], [[1, 2, 1], [0, 0, 0], [-1, -2, -1]])
    let y = try ReferenceOps.conv2d(x, weight: sobel, bias: nil, Conv2D(filters: 1, kernel: Pair(3), padding: .valid))
    #expect(y == tensor([1, 1, 4, 4], [[0, 0, 0, 0], [40, 40, 40, 40], [40, 40, 40, 40], [0, 0, 0, 0]]))
  }

  @Test(arguments: [(0, 0), (0, 2), (1, 1), (2, 0), (2, 2)])
  func oneHotKernelShiftsTheInput(_ p: Int, _ q: Int) throws {
    let x = integerTensor([2, 1, 5, 4], seed: 7)
    var kernel = [Float](repeating: 0, count: 9)
    kernel[p * 3 + q] = 1
    let attrs = Conv2D(filters: 1, kernel: Pair(3), padding: .explicit(Pads(1)))
    let y = try ReferenceOps.conv2d(x, weight: tensor([1, 1, 3, 3], kernel), bias: nil, attrs)
    #expect(y.shape == x.shape)
    for n in 0..<2 {
      for i in 0..<5 {
        for j in 0..<4 {
          let (r, c) = (i - 1 + p, j - 1 + q)
          let inside = (0..<5).contains(r) && (0..<4).contains(c)
          #expect(y[n, 0, i, j] == (inside ? x[n, 0, r, c] : 0))
        }
      }
    }
  }

  @Test func groupedConvEqualsSeparateConvsConcatenated() throws {
    let x = integerTensor([2, 6, 5, 5], seed: 1)
    let w = integerTensor([4, 3, 3, 3], seed: 2)
    let b = integerTensor([4], seed: 3)
    let grouped = try ReferenceOps.conv2d(x, weight: w, bias: b, Conv2D(filters: 4, kernel: Pair(3), groups: 2))
    // Group g reads input channels 3g..<3g+3 and owns filters 2g..<2g+2.
    var parts: [Tensor] = []
    for g in 0..<2 {
      let xg = try slice(x, channels: (3 * g)..<(3 * g + 3))
      let wg = Tensor(shape: [2, 3, 3, 3], data: Array(w.data[(g * 54)..<(g * 54 + 54)]))
      let bg = Tensor(shape: [2], data: Array(b.data[(2 * g)..<(2 * g + 2)]))
      parts.append(try ReferenceOps.conv2d(xg, weight: wg, bias: bg, Conv2D(filters: 2, kernel: Pair(3))))
    }
    #expect(grouped == (try ReferenceOps.concat(parts)))
  }

  @Test func depthwiseConvFiltersEachChannelAlone() throws {
    let x = integerTensor([1, 3, 6, 5], seed: 4)
    let w = integerTensor([3, 1, 3, 3], seed: 5)
    let depthwise = try ReferenceOps.conv2d(
      x, weight: w, bias: nil, Conv2D(filters: 3, kernel: Pair(3), padding: .same, groups: 3, bias: false))
    for c in 0..<3 {
      let single = try ReferenceOps.conv2d(
        slice(x, channels: c..<(c + 1)),
        weight: Tensor(shape: [1, 1, 3, 3], data: Array(w.data[(9 * c)..<(9 * c + 9)])),
        bias: nil, Conv2D(filters: 1, kernel: Pair(3), padding: .same, bias: false))
      #expect(try slice(depthwise, channels: c..<(c + 1)) == single)
    }
  }

  @Test func dilationEqualsAZeroInsertedKernel() throws {
    let x = integerTensor([2, 2, 9, 8], seed: 6)
    let w = integerTensor([3, 2, 3, 2], seed: 8)
    let dilated = try ReferenceOps.conv2d(
      x, weight: w, bias: nil, Conv2D(filters: 3, kernel: Pair(3, 2), dilation: Pair(2, 3), bias: false))
    // Dilation (2, 3) spreads a 3×2 kernel over 5×4 cells: tap (p, q) moves to (2p, 3q).
    var spread = Tensor(zeros: [3, 2, 5, 4])
    for f in 0..<3 {
      for c in 0..<2 { for p in 0..<3 { for q in 0..<2 { spread[f, c, 2 * p, 3 * q] = w[f, c, p, q] } } }
    }
    let plain = try ReferenceOps.conv2d(
      x, weight: spread, bias: nil, Conv2D(filters: 3, kernel: Pair(5, 4), bias: false))
    #expect(dilated == plain)
  }

  @Test(arguments: [(7, 1, 3), (8, 1, 3), (8, 1, 4), (7, 2, 3), (8, 2, 5), (9, 3, 2)])
  func samePaddingGivesCeilOfInputOverStride(_ n: Int, _ stride: Int, _ k: Int) throws {
    let x = integerTensor([1, 1, n, n + 1], seed: 9)
    let attrs = Conv2D(filters: 2, kernel: Pair(k), stride: Pair(stride), padding: .same)
    let y = try ReferenceOps.conv2d(x, weight: integerTensor([2, 1, k, k], seed: 10), bias: nil, attrs)
    #expect(y.shape == [1, 2, (n + stride - 1) / stride, (n + stride) / stride])
  }

  @Test func fusedActivationIsAppliedAfterTheBias() throws {
    let x = integerTensor([2, 2, 5, 5], seed: 11)
    let w = integerTensor([3, 2, 3, 3], seed: 12)
    let b = integerTensor([3], seed: 13)
    var attrs = Conv2D(filters: 3, kernel: Pair(3))
    let linear = try ReferenceOps.conv2d(x, weight: w, bias: b, attrs)
    attrs.activation = .relu
    #expect(try ReferenceOps.conv2d(x, weight: w, bias: b, attrs) == (try ReferenceOps.activation(linear, .relu)))
    #expect(linear.data.contains { $0 < 0 })
  }

  @Test func badOperandsThrowNamingTheOperand() throws {
    let x = integerTensor([1, 4, 5, 5], seed: 14)
    let attrs = Conv2D(filters: 2, kernel: Pair(3), groups: 2)
    let wrongWeight = #expect(throws: ReferenceError.self) {
      try ReferenceOps.conv2d(x, weight: Tensor(zeros: [2, 4, 3, 3]), bias: nil, attrs)
    }
    #expect(wrongWeight?.message == "conv2d: weight has shape [2, 4, 3, 3]; expected [2, 2, 3, 3]")
    let indivisible = #expect(throws: ReferenceError.self) {
      try ReferenceOps.conv2d(
        x, weight: Tensor(zeros: [3, 1, 3, 3]), bias: nil, Conv2D(filters: 3, kernel: Pair(3), groups: 4))
    }
    #expect(indivisible?.message.contains("multiples of groups 4") == true)
    #expect(throws: ReferenceError.self) {
      try ReferenceOps.conv2d(Tensor(zeros: [4, 5, 5]), weight: Tensor(zeros: [2, 2, 3, 3]), bias: nil, attrs)
    }
    #expect(throws: ReferenceError.self) {
      try ReferenceOps.conv2d(x, weight: Tensor(zeros: [2, 2, 3, 3]), bias: Tensor(zeros: [3]), attrs)
    }
  }
}

/// Channels `range` of an NCHW tensor.
func slice(_ x: Tensor, channels range: Range<Int>) throws -> Tensor {
  let (n, c) = (x.shape[0], x.shape[1])
  let plane = x.shape[2] * x.shape[3]
  var data: [Float] = []
  for s in 0..<n { data += x.data[((s * c + range.lowerBound) * plane)..<((s * c + range.upperBound) * plane)] }
  return Tensor(shape: [n, range.count, x.shape[2], x.shape[3]], data: data)
}
