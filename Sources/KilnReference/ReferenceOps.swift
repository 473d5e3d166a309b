// The reference ops: dense, a conv/dense epilogue, the shape-moving ops (flatten, reshape, concat), add and mul.
import KilnIR

/// One function per op on full (batched) NCHW float32 tensors: the specification every generated C kernel
/// is checked against. Each matches the PyTorch operator of the same name, accumulates in `Double`, and is
/// written to be obviously correct rather than fast (flat arrays with precomputed strides, no per-element
/// allocation). Bad shapes or attributes throw a `ReferenceError` naming the op and operand; nothing traps.
public enum ReferenceOps {
  /// nn.Linear then the fused activation: y[n, o] = act(Σ_i x[n, i]·W[o, i] + b[o]).
  /// - Parameters:
  ///   - x: [N, in].
  ///   - weight: [units, in] (PyTorch layout).
  ///   - bias: [units], or nil for none.
  public static func dense(
    _ x: Tensor, weight: Tensor, bias: Tensor?, activation: Activation = .identity
  ) throws -> Tensor {
    try Shapes.requireRank("dense", "weight", weight.shape, 2, layout: "[units, in]")
    let units = weight.shape[0]
    let outShape = try Shapes.dense(input: x.shape, units: units)
    let (n, features) = (x.shape[0], x.shape[1])
    try Shapes.requireShape("dense", "weight", weight.shape, [units, features])
    if let bias { try Shapes.requireShape("dense", "bias", bias.shape, [units]) }
    var y = [Float](repeating: 0, count: n * units)
    for s in 0..<n {
      let row = s * features
      for o in 0..<units {
        let wRow = o * features
        var acc = 0.0
        for i in 0..<features { acc += Double(x.data[row + i]) * Double(weight.data[wRow + i]) }
        if let bias { acc += Double(bias.data[o]) }
        y[s * units + o] = Float(acc)
      }
    }
    return try self.activation(Tensor(shape: outShape, data: y), activation)
  }

  /// A conv or dense layer's epilogue (`EpilogueOp`) applied to its value `v` (already rounded to Float, with
  /// the bias and the layer's own activation): each op in order, exactly as the standalone op it replaces
  /// computes it (`activation`, then `add` and `mul` in Float), so a fused graph gives the unfused one's bits.
  /// - Parameter operands: the node's extra inputs 1, 2, …, one per `add`/`mul`, in order.
  public static func epilogue(_ v: Tensor, _ ops: [EpilogueOp], operands: [Tensor]) throws -> Tensor {
    guard operands.count == ops.operandCount else {
      throw ReferenceError("epilogue [\(ops.map(\.description).joined(separator: ", "))] reads \(ops.operandCount) operands; \(operands.count) given")
    }
    var y = v
    var next = operands.makeIterator()
    for op in ops {
      switch op {
      case .activation(let a):
        guard a.isElementwise else { throw ReferenceError("epilogue: \(a) is not elementwise") }
        y = try activation(y, a)
      case .add: y = try add(y, next.next()!)
      case .mul: y = try mul(y, next.next()!)
      }
    }
    return y
  }

  /// Elementwise sum of two tensors of one shape (no broadcasting).
  public static func add(_ a: Tensor, _ b: Tensor) throws -> Tensor {
    let shape = try Shapes.elementwise("add", a.shape, b.shape)
    return Tensor(shape: shape, data: zip(a.data, b.data).map { $0 + $1 })
  }

  /// Elementwise product of two tensors of one shape (no broadcasting).
  public static func mul(_ a: Tensor, _ b: Tensor) throws -> Tensor {
    let shape = try Shapes.elementwise("mul", a.shape, b.shape)
    return Tensor(shape: shape, data: zip(a.data, b.data).map { $0 * $1 })
  }

  /// nn.Flatten: [N, d1, d2, …] → [N, d1·d2·…], keeping row-major order.
  public static func flatten(_ x: Tensor) throws -> Tensor {
    Tensor(shape: try Shapes.flatten(input: x.shape), data: x.data)
  }

  /// Per-sample reshape: [N, …] → [N] + dims, where at most one entry of `dims` is −1 (inferred).
  public static func reshape(_ x: Tensor, dims: [Int]) throws -> Tensor {
    Tensor(shape: try Shapes.reshape(input: x.shape, dims: dims), data: x.data)
  }

  /// torch.cat along dimension 1: inputs agree in every other dimension.
  public static func concat(_ xs: [Tensor]) throws -> Tensor {
    let shape = try Shapes.concat(inputs: xs.map(\.shape))
    // View each input as [outer = N, its channel block = C_i·inner]: the output row of sample n is the
    // inputs' rows of sample n laid end to end.
    let outer = shape[0]
    var y: [Float] = []
    y.reserveCapacity(shape.reduce(1, *))
    for s in 0..<outer {
      for x in xs {
        let block = x.count / max(outer, 1)
        y.append(contentsOf: x.data[(s * block)..<((s + 1) * block)])
      }
    }
    return Tensor(shape: shape, data: y)
  }
}
