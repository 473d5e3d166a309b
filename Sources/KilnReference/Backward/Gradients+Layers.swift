// Vector-Jacobian products of dense, conv2d and the activations (a fused activation included).
import Foundation
import KilnIR

/// The backward of every op: one vector-Jacobian product (VJP) per op on full batched tensors. Given the
/// op's inputs and dy = ∂L/∂y for some scalar L, each returns ∂L/∂(each input and parameter).
///
/// Every VJP has a `DoubleTensor` form, which is the definition (inputs, saved values and sums all in
/// Double), and a `Tensor` form that converts exactly to Double, runs it and rounds each result once to
/// Float. A VJP recomputes in Double what it needs of the forward (pre-activations, batch statistics, the
/// dropout mask) from the inputs, rather than taking rounded saved values. Shapes are checked with the
/// forward's rules, and dy must have the forward output's shape; a mismatch throws `ReferenceError`.
public enum ReferenceGradients {
  static func requireGradient(_ op: String, _ dy: [Int], _ y: [Int]) throws {
    try Shapes.requireShape("\(op) backward", "dy", dy, y)
  }

  /* Dense, y = act(z), z[n, o] = Σ_i x[n, i]·W[o, i] + b[o]:
       dz = act'(z) ⊙ dy                      (see `activation(dy:x:_:)`)
       dx[n, i] = Σ_o dz[n, o]·W[o, i]        (dz·W)
       dW[o, i] = Σ_n dz[n, o]·x[n, i]        (dzᵀ·x)
       db[o]    = Σ_n dz[n, o]                                                        */
  /// The VJP of `ReferenceOps.dense` with its fused activation: (∂L/∂x, ∂L/∂W, ∂L/∂b or nil without bias).
  public static func dense(
    dy: DoubleTensor, x: DoubleTensor, weight: DoubleTensor, bias: DoubleTensor?, activation: Activation = .identity
  ) throws -> (dx: DoubleTensor, dWeight: DoubleTensor, dBias: DoubleTensor?) {
    let z = try DoubleReferenceOps.denseLinear(x, weight: weight, bias: bias)
    try requireGradient("dense", dy.shape, z.shape)
    let dz = try self.activation(dy: dy, x: z, activation)
    let (n, features, units) = (x.shape[0], x.shape[1], weight.shape[0])
    var dx = [Double](repeating: 0, count: x.count)
    var dw = [Double](repeating: 0, count: weight.count)
    var db = [Double](repeating: 0, count: units)
    for s in 0..<n {
      for o in 0..<units {
        let g = dz.data[s * units + o]
        db[o] += g
        for i in 0..<features {
          dx[s * features + i] += g * weight.data[o * features + i]
          dw[o * features + i] += g * x.data[s * features + i]
        }
      }
    }
    return (
      DoubleTensor(checked: x.shape, dx), DoubleTensor(checked: weight.shape, dw),
      bias == nil ? nil : DoubleTensor(checked: [units], db)
    )
  }

  /// The Float form of `dense(dy:x:weight:bias:activation:)`: exact conversion, Double VJP, one rounding.
  public static func dense(
    dy: Tensor, x: Tensor, weight: Tensor, bias: Tensor?, activation: Activation = .identity
  ) throws -> (dx: Tensor, dWeight: Tensor, dBias: Tensor?) {
    let r = try dense(
      dy: DoubleTensor(dy), x: DoubleTensor(x), weight: DoubleTensor(weight), bias: bias.map(DoubleTensor.init),
      activation: activation)
    return (r.dx.float, r.dWeight.float, r.dBias?.float)
  }

  /* Conv2d, y = act(z), z[n, f, i, j] = b[f] + Σ_{c, p, q} x[n, g·Cg + c, i·sh − top + p·dh, j·sw − left + q·dw]·W[f, c, p, q]
     with g = ⌊f/Fg⌋. Every in-bounds tap (y index, x index, W index) contributes x·W to z, so, with dz = act'(z) ⊙ dy,
       dx[x index] += dz[y index]·W[W index]   (the transposed convolution: stride → spacing, padding → cropping)
       dW[W index] += dz[y index]·x[x index]   (the correlation of x with dz)
       db[f]        = Σ_{n, i, j} dz[n, f, i, j]
     summed over the same taps the forward walks, so stride, per-side padding, dilation and groups need no
     separate case; reads of the padding have no x element and contribute nothing.                      */
  /// The VJP of `ReferenceOps.conv2d` with its fused activation: (∂L/∂x, ∂L/∂W, ∂L/∂b or nil without bias).
  public static func conv2d(
    dy: DoubleTensor, x: DoubleTensor, weight: DoubleTensor, bias: DoubleTensor?, _ attrs: Conv2D
  ) throws -> (dx: DoubleTensor, dWeight: DoubleTensor, dBias: DoubleTensor?) {
    let z = try DoubleReferenceOps.convLinear(x, weight: weight, bias: bias, attrs)
    try requireGradient("conv2d", dy.shape, z.shape)
    let dz = try activation(dy: dy, x: z, attrs.activation)
    let geometry = try ConvGeometry(
      input: x.shape, weight: weight.shape, hasBias: bias != nil, biasShape: bias?.shape, attrs)
    var dx = [Double](repeating: 0, count: x.count)
    var dw = [Double](repeating: 0, count: weight.count)
    geometry.forEachTap { yi, xi, wi in
      dx[xi] += dz.data[yi] * weight.data[wi]
      dw[wi] += dz.data[yi] * x.data[xi]
    }
    var db = [Double](repeating: 0, count: attrs.filters)
    let plane = geometry.oh * geometry.ow
    for i in dz.data.indices { db[(i / plane) % attrs.filters] += dz.data[i] }
    return (
      DoubleTensor(checked: x.shape, dx), DoubleTensor(checked: weight.shape, dw),
      bias == nil ? nil : DoubleTensor(checked: [attrs.filters], db)
    )
  }

  /// The Float form of `conv2d(dy:x:weight:bias:_:)`: exact conversion, Double VJP, one rounding.
  public static func conv2d(
    dy: Tensor, x: Tensor, weight: Tensor, bias: Tensor?, _ attrs: Conv2D
  ) throws -> (dx: Tensor, dWeight: Tensor, dBias: Tensor?) {
    let r = try conv2d(
      dy: DoubleTensor(dy), x: DoubleTensor(x), weight: DoubleTensor(weight), bias: bias.map(DoubleTensor.init), attrs)
    return (r.dx.float, r.dWeight.float, r.dBias?.float)
  }

  /* Activations, dx = act'(x) ⊙ dy elementwise, with PyTorch's choice at the kinks:
       relu        1 if x > 0, else 0            (0 at x = 0, threshold_backward)
       relu6       1 if 0 < x < 6, else 0        (0 at both kinks, hardtanh_backward)
       leaky_relu  1 if x > 0, else α            (α at x = 0)
       elu         1 if x > 0, else α·eˣ
       sigmoid     s·(1 − s), s = sigmoid(x);    tanh  1 − tanh²(x);    identity  1
     and over dimension 1, for each (sample, position) lane, with s = softmax(x):
       softmax      ∂y_c/∂x_k = s_c(δ_ck − s_k)  ⇒  dx_k = s_k·(dy_k − Σ_c dy_c·s_c)
       log_softmax  ∂y_c/∂x_k = δ_ck − s_k       ⇒  dx_k = dy_k − s_k·Σ_c dy_c                        */
  /// The VJP of `ReferenceOps.activation` at input x: ∂L/∂x.
  public static func activation(dy: DoubleTensor, x: DoubleTensor, _ a: Activation) throws -> DoubleTensor {
    try requireGradient(a.description, dy.shape, try Shapes.activation(input: x.shape, a))
    switch a {
    case .softmax, .logSoftmax:
      let s = DoubleReferenceOps.softmax(x)
      let (outer, channels) = (x.shape[0], x.shape[1])
      let inner = x.shape.dropFirst(2).reduce(1, *)
      var dx = [Double](repeating: 0, count: x.count)
      for n in 0..<outer {
        for e in 0..<inner {
          let lane = stride(from: n * channels * inner + e, to: (n + 1) * channels * inner, by: inner)
          if a == .softmax {
            let dot = lane.reduce(0.0) { $0 + dy.data[$1] * s.data[$1] }
            for k in lane { dx[k] = s.data[k] * (dy.data[k] - dot) }
          } else {
            let total = lane.reduce(0.0) { $0 + dy.data[$1] }
            for k in lane { dx[k] = dy.data[k] - s.data[k] * total }
          }
        }
      }
      return DoubleTensor(checked: x.shape, dx)
    case .identity, .relu, .relu6, .leakyRelu, .elu, .sigmoid, .tanh:
      return DoubleTensor(checked: x.shape, zip(dy.data, x.data).map { g, v in g * derivative(v, a) })
    }
  }

  /// The Float form of `activation(dy:x:_:)`: exact conversion, Double VJP, one rounding.
  public static func activation(dy: Tensor, x: Tensor, _ a: Activation) throws -> Tensor {
    try activation(dy: DoubleTensor(dy), x: DoubleTensor(x), a).float
  }

  /// act'(v) of an elementwise activation, with the kink conventions above.
  static func derivative(_ v: Double, _ a: Activation) -> Double {
    switch a {
    case .identity, .softmax, .logSoftmax: return 1
    case .relu: return v > 0 ? 1 : 0
    case .relu6: return v > 0 && v < 6 ? 1 : 0
    case .leakyRelu(let alpha): return v > 0 ? 1 : alpha
    case .elu(let alpha): return v > 0 ? 1 : alpha * exp(v)
    case .sigmoid:
      let s = ReferenceOps.activate(v, .sigmoid)
      return s * (1 - s)
    case .tanh:
      let t = Foundation.tanh(v)
      return 1 - t * t
    }
  }
}
