// The forward of every op in Double, for finite-difference checks of the gradients (not for bitwise results).
import Foundation
import KilnIR

/// The reference ops of `ReferenceOps` computed wholly in Double: same shape rules and errors, same
/// formulas, no rounding to Float. Central finite differences of these check `ReferenceGradients` to about
/// 1e-8 relative, where differences of the Float forward would drown in its rounding (≈ 6e-8 per value).
///
/// NOTE: the Float forward in `ReferenceOps` stays the bitwise specification of generated C; these are
/// written again rather than made generic so that its results cannot change.
public enum DoubleReferenceOps {
  /// nn.Linear then the fused activation: y[n, o] = act(Σ_i x[n, i]·W[o, i] + b[o]).
  public static func dense(
    _ x: DoubleTensor, weight: DoubleTensor, bias: DoubleTensor?, activation: Activation = .identity
  ) throws -> DoubleTensor {
    try self.activation(denseLinear(x, weight: weight, bias: bias), activation)
  }

  /// x·Wᵀ + b without the activation; checks shapes as `ReferenceOps.dense` does.
  static func denseLinear(_ x: DoubleTensor, weight: DoubleTensor, bias: DoubleTensor?) throws -> DoubleTensor {
    try Shapes.requireRank("dense", "weight", weight.shape, 2, layout: "[units, in]")
    let units = weight.shape[0]
    let outShape = try Shapes.dense(input: x.shape, units: units)
    let (n, features) = (x.shape[0], x.shape[1])
    try Shapes.requireShape("dense", "weight", weight.shape, [units, features])
    if let bias { try Shapes.requireShape("dense", "bias", bias.shape, [units]) }
    var y = [Double](repeating: 0, count: n * units)
    for s in 0..<n {
      for o in 0..<units {
        var acc = bias?.data[o] ?? 0
        for i in 0..<features { acc += x.data[s * features + i] * weight.data[o * features + i] }
        y[s * units + o] = acc
      }
    }
    return DoubleTensor(checked: outShape, y)
  }

  /// nn.Conv2d then the fused activation (see `ReferenceOps.conv2d` for the formula).
  public static func conv2d(
    _ x: DoubleTensor, weight: DoubleTensor, bias: DoubleTensor?, _ attrs: Conv2D
  ) throws -> DoubleTensor {
    try activation(convLinear(x, weight: weight, bias: bias, attrs), attrs.activation)
  }

  /// The convolution without its activation.
  static func convLinear(
    _ x: DoubleTensor, weight: DoubleTensor, bias: DoubleTensor?, _ attrs: Conv2D
  ) throws -> DoubleTensor {
    let g = try ConvGeometry(
      input: x.shape, weight: weight.shape, hasBias: bias != nil, biasShape: bias?.shape, attrs)
    var y = [Double](repeating: 0, count: g.outShape.reduce(1, *))
    g.forEachTap { yi, xi, wi in y[yi] += x.data[xi] * weight.data[wi] }
    if let bias {
      let plane = g.oh * g.ow
      for i in y.indices { y[i] += bias.data[(i / plane) % g.f] }
    }
    return DoubleTensor(checked: g.outShape, y)
  }

  /// nn.MaxPool2d: the maximum of each window's in-bounds cells.
  public static func maxPool(_ x: DoubleTensor, _ p: Pool) throws -> DoubleTensor {
    let g = try PoolGeometry("maxpool", input: x.shape, p)
    var y = [Double](repeating: 0, count: g.outShape.reduce(1, *))
    g.forEachWindow { yi, cells, _ in y[yi] = x.data[PoolGeometry.argmax(cells, in: x.data)] }
    return DoubleTensor(checked: g.outShape, y)
  }

  /// nn.AvgPool2d with PyTorch's divisor rule (see `ReferenceOps.avgPool`).
  public static func avgPool(_ x: DoubleTensor, _ p: Pool) throws -> DoubleTensor {
    let g = try PoolGeometry("avgpool", input: x.shape, p)
    var y = [Double](repeating: 0, count: g.outShape.reduce(1, *))
    g.forEachWindow { yi, cells, poolSize in
      var sum = 0.0
      for i in cells { sum += x.data[i] }
      y[yi] = sum / Double(p.countIncludePad ? poolSize : cells.count)
    }
    return DoubleTensor(checked: g.outShape, y)
  }

  /// Mean over H and W: [N, C, H, W] → [N, C].
  public static func globalAvgPool(_ x: DoubleTensor) throws -> DoubleTensor {
    let outShape = try Shapes.globalAvgPool(input: x.shape)
    let plane = x.shape[2] * x.shape[3]
    let y = (0..<(outShape[0] * outShape[1])).map { k in
      x.data[(k * plane)..<((k + 1) * plane)].reduce(0, +) / Double(plane)
    }
    return DoubleTensor(checked: outShape, y)
  }

  /// torch.cat along dimension 1.
  public static func concat(_ xs: [DoubleTensor]) throws -> DoubleTensor {
    let shape = try Shapes.concat(inputs: xs.map(\.shape))
    var y: [Double] = []
    y.reserveCapacity(shape.reduce(1, *))
    for s in 0..<shape[0] {
      for x in xs {
        let block = x.count / shape[0]
        y.append(contentsOf: x.data[(s * block)..<((s + 1) * block)])
      }
    }
    return DoubleTensor(checked: shape, y)
  }

  /// Elementwise a + b (one shape).
  public static func add(_ a: DoubleTensor, _ b: DoubleTensor) throws -> DoubleTensor {
    DoubleTensor(checked: try Shapes.elementwise("add", a.shape, b.shape), zip(a.data, b.data).map { $0 + $1 })
  }

  /// Elementwise a · b (one shape).
  public static func mul(_ a: DoubleTensor, _ b: DoubleTensor) throws -> DoubleTensor {
    DoubleTensor(checked: try Shapes.elementwise("mul", a.shape, b.shape), zip(a.data, b.data).map { $0 * $1 })
  }

  /// Training-mode dropout with the mask of `ReferenceOps.dropout` for the same seed and stream.
  public static func dropout(_ x: DoubleTensor, rate: Double, seed: UInt64, stream: UInt64) throws -> DoubleTensor {
    let keep = try ReferenceGradients.dropoutScale(count: x.count, rate: rate, seed: seed, stream: stream)
    return DoubleTensor(checked: x.shape, zip(x.data, keep).map { $0 * $1 })
  }

  /// Applies an activation (formulas of `ReferenceOps.activation`), softmax/log_softmax over dimension 1.
  public static func activation(_ x: DoubleTensor, _ a: Activation) throws -> DoubleTensor {
    let shape = try Shapes.activation(input: x.shape, a)
    switch a {
    case .softmax, .logSoftmax:
      return softmax(x, log: a == .logSoftmax)
    default:
      return DoubleTensor(checked: shape, x.data.map { ReferenceOps.activate($0, a) })
    }
  }

  /// softmax (or log_softmax: x − m − log Σ e^(x − m)) over dimension 1 of [N, C, …], stabilized by the
  /// maximum m over the dimension.
  static func softmax(_ x: DoubleTensor, log: Bool = false) -> DoubleTensor {
    let (outer, channels) = (x.shape[0], x.shape[1])
    let inner = x.shape.dropFirst(2).reduce(1, *)
    var y = [Double](repeating: 0, count: x.count)
    for s in 0..<outer {
      for e in 0..<inner {
        let lane = stride(from: s * channels * inner + e, to: (s + 1) * channels * inner, by: inner)
        let m = lane.reduce(-Double.infinity) { max($0, x.data[$1]) }
        let sum = lane.reduce(0.0) { $0 + exp(x.data[$1] - m) }
        for i in lane { y[i] = log ? x.data[i] - m - Foundation.log(sum) : exp(x.data[i] - m) / sum }
      }
    }
    return DoubleTensor(checked: x.shape, y)
  }
}
