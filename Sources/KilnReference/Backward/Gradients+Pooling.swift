// Vector-Jacobian products of pooling and the data-movement ops: max/avg/global pooling, reshapes, concat, add, mul.
import KilnIR

extension ReferenceGradients {
  /* Max pooling, y = x[argmax of the window]: each dy goes to the one cell the forward picked, the first
     maximum in row-major scan order (PyTorch's max_pool2d_with_indices), and overlapping windows add up:
       dx[k] = Σ_{windows w with argmax(w) = k} dy[w]                                                      */
  /// The VJP of `ReferenceOps.maxPool`: ∂L/∂x.
  public static func maxPool(dy: DoubleTensor, x: DoubleTensor, _ p: Pool) throws -> DoubleTensor {
    let g = try PoolGeometry("maxpool", input: x.shape, p)
    try requireGradient("maxpool", dy.shape, g.outShape)
    var dx = [Double](repeating: 0, count: x.count)
    g.forEachWindow { yi, cells, _ in dx[PoolGeometry.argmax(cells, in: x.data)] += dy.data[yi] }
    return DoubleTensor(checked: x.shape, dx)
  }

  /// The Float form of `maxPool(dy:x:_:)`.
  public static func maxPool(dy: Tensor, x: Tensor, _ p: Pool) throws -> Tensor {
    try maxPool(dy: DoubleTensor(dy), x: DoubleTensor(x), p).float
  }

  /* Average pooling, y[w] = Σ_{k in window w} x[k] / d(w), with d(w) the window's divisor (its
     count_include_pad pool size, or its in-bounds cell count); padding cells hold no x, so
       dx[k] = Σ_{windows w ∋ k} dy[w] / d(w)                                                               */
  /// The VJP of `ReferenceOps.avgPool`: ∂L/∂x (the input shape is all it needs of x).
  public static func avgPool(dy: DoubleTensor, inputShape: [Int], _ p: Pool) throws -> DoubleTensor {
    let g = try PoolGeometry("avgpool", input: inputShape, p)
    try requireGradient("avgpool", dy.shape, g.outShape)
    var dx = [Double](repeating: 0, count: inputShape.reduce(1, *))
    g.forEachWindow { yi, cells, poolSize in
      let share = dy.data[yi] / Double(p.countIncludePad ? poolSize : cells.count)
      for k in cells { dx[k] += share }
    }
    return DoubleTensor(checked: inputShape, dx)
  }

  /// The Float form of `avgPool(dy:inputShape:_:)`.
  public static func avgPool(dy: Tensor, inputShape: [Int], _ p: Pool) throws -> Tensor {
    try avgPool(dy: DoubleTensor(dy), inputShape: inputShape, p).float
  }

  /* Global average pooling, y[n, c] = Σ_{h, w} x[n, c, h, w] / (H·W)  ⇒  dx[n, c, h, w] = dy[n, c] / (H·W). */
  /// The VJP of `ReferenceOps.globalAvgPool`: ∂L/∂x for an input of `inputShape` [N, C, H, W].
  public static func globalAvgPool(dy: DoubleTensor, inputShape: [Int]) throws -> DoubleTensor {
    try requireGradient("global_avgpool", dy.shape, try Shapes.globalAvgPool(input: inputShape))
    let plane = inputShape[2] * inputShape[3]
    let dx = (0..<inputShape.reduce(1, *)).map { dy.data[$0 / plane] / Double(plane) }
    return DoubleTensor(checked: inputShape, dx)
  }

  /// The Float form of `globalAvgPool(dy:inputShape:)`.
  public static func globalAvgPool(dy: Tensor, inputShape: [Int]) throws -> Tensor {
    try globalAvgPool(dy: DoubleTensor(dy), inputShape: inputShape).float
  }

  /* Flatten and reshape keep the row-major order of the elements: the Jacobian is the identity on the
     flat data, so dx is dy read back in the input's shape.                                               */
  /// The VJP of `ReferenceOps.flatten` and `ReferenceOps.reshape`: dy under the input's shape.
  public static func reshape(dy: DoubleTensor, inputShape: [Int]) throws -> DoubleTensor {
    guard dy.count == inputShape.reduce(1, *), dy.shape.first == inputShape.first else {
      throw ReferenceError(
        "reshape backward: dy has shape \(Shapes.format(dy.shape)); expected the batch and element count of "
          + Shapes.format(inputShape))
    }
    return dy.reshaped(inputShape)
  }

  /// The Float form of `reshape(dy:inputShape:)`.
  public static func reshape(dy: Tensor, inputShape: [Int]) throws -> Tensor {
    try reshape(dy: DoubleTensor(dy), inputShape: inputShape).float
  }

  /* Concat along dimension 1 copies each input's block of every sample into the output, so the VJP
     splits dy the same way: input i receives, per sample, the C_i·inner values at its offset.            */
  /// The VJP of `ReferenceOps.concat`: one ∂L/∂x_i per input, for inputs of the given shapes.
  public static func concat(dy: DoubleTensor, inputShapes: [[Int]]) throws -> [DoubleTensor] {
    try requireGradient("concat", dy.shape, try Shapes.concat(inputs: inputShapes))
    let outer = dy.shape[0]
    let row = dy.count / max(outer, 1)
    var offset = 0
    var result: [DoubleTensor] = []
    for shape in inputShapes {
      let block = shape.reduce(1, *) / max(outer, 1)
      var dx: [Double] = []
      dx.reserveCapacity(block * outer)
      for s in 0..<outer { dx.append(contentsOf: dy.data[(s * row + offset)..<(s * row + offset + block)]) }
      result.append(DoubleTensor(checked: shape, dx))
      offset += block
    }
    return result
  }

  /// The Float form of `concat(dy:inputShapes:)`.
  public static func concat(dy: Tensor, inputShapes: [[Int]]) throws -> [Tensor] {
    try concat(dy: DoubleTensor(dy), inputShapes: inputShapes).map(\.float)
  }

  /* add: y = a + b  ⇒  da = dy, db = dy.      mul: y = a ⊙ b  ⇒  da = dy ⊙ b, db = dy ⊙ a.               */
  /// The VJP of `ReferenceOps.add`: (∂L/∂a, ∂L/∂b), both dy.
  public static func add(dy: DoubleTensor, shape: [Int]) throws -> (da: DoubleTensor, db: DoubleTensor) {
    try requireGradient("add", dy.shape, shape)
    return (dy, dy)
  }

  /// The VJP of `ReferenceOps.mul`: (∂L/∂a, ∂L/∂b) = (dy ⊙ b, dy ⊙ a).
  public static func mul(dy: DoubleTensor, a: DoubleTensor, b: DoubleTensor) throws -> (
    da: DoubleTensor, db: DoubleTensor
  ) {
    try requireGradient("mul", dy.shape, try Shapes.elementwise("mul", a.shape, b.shape))
    return (
      DoubleTensor(checked: a.shape, zip(dy.data, b.data).map { $0 * $1 }),
      DoubleTensor(checked: a.shape, zip(dy.data, a.data).map { $0 * $1 })
    )
  }

  /// The Float form of `mul(dy:a:b:)`.
  public static func mul(dy: Tensor, a: Tensor, b: Tensor) throws -> (da: Tensor, db: Tensor) {
    let r = try mul(dy: DoubleTensor(dy), a: DoubleTensor(a), b: DoubleTensor(b))
    return (r.da.float, r.db.float)
  }
}

extension ReferenceGradients {
  /// The Float form of `add(dy:shape:)`.
  public static func add(dy: Tensor, shape: [Int]) throws -> (da: Tensor, db: Tensor) {
    try requireGradient("add", dy.shape, shape)
    return (dy, dy)
  }
}
