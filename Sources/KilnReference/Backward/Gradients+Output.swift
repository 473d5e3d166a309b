// Activation VJPs from the forward OUTPUT, which autodiff prefers: the input can then die at the activation.
import Foundation
import KilnIR

extension ReferenceGradients {
  /* The same derivatives as `activation(dy:x:_:)`, written in terms of y = act(x), valid when act is
     increasing with act(0) = 0 (so the sign of x is the sign of y):
       relu        1 if y > 0, else 0              relu6   1 if 0 < y < 6, else 0
       leaky_relu  1 if y > 0, else α  (α > 0)     elu     1 if y > 0, else y + α  (α > 0: α·eˣ = y + α)
       sigmoid     y·(1 − y)                        tanh    1 − y²           identity  1
     and over dimension 1, per (sample, position) lane:
       softmax      dx_k = y_k·(dy_k − Σ_c dy_c·y_c)
       log_softmax  dx_k = dy_k − e^{y_k}·Σ_c dy_c
     At x = 0 these give PyTorch's choices (relu 0, leaky_relu α, elu α), as the x form does.              */
  /// The VJP of `ReferenceOps.activation` from its output y: ∂L/∂x. Requires `a.derivativeFollowsFromOutput`.
  public static func activation(dy: DoubleTensor, y: DoubleTensor, _ a: Activation) throws -> DoubleTensor {
    guard a.derivativeFollowsFromOutput else {
      throw ReferenceError("\(a): the derivative is not a function of the output; expected the input")
    }
    try requireGradient(a.description, dy.shape, y.shape)
    switch a {
    case .softmax, .logSoftmax:
      guard y.shape.count >= 2 else { throw ReferenceError("\(a) needs a channel dimension") }
      let (outer, channels) = (y.shape[0], y.shape[1])
      let inner = y.shape.dropFirst(2).reduce(1, *)
      var dx = [Double](repeating: 0, count: y.count)
      for n in 0..<outer {
        for e in 0..<inner {
          let lane = stride(from: n * channels * inner + e, to: (n + 1) * channels * inner, by: inner)
          if a == .softmax {
            let dot = lane.reduce(0.0) { $0 + dy.data[$1] * y.data[$1] }
            for k in lane { dx[k] = y.data[k] * (dy.data[k] - dot) }
          } else {
            let total = lane.reduce(0.0) { $0 + dy.data[$1] }
            for k in lane { dx[k] = dy.data[k] - exp(y.data[k]) * total }
          }
        }
      }
      return DoubleTensor(checked: y.shape, dx)
    case .identity, .relu, .relu6, .leakyRelu, .elu, .sigmoid, .tanh:
      return DoubleTensor(checked: y.shape, zip(dy.data, y.data).map { g, v in g * derivative(output: v, a) })
    }
  }

  /// The Float form of `activation(dy:y:_:)`: exact conversion, Double VJP, one rounding.
  public static func activation(dy: Tensor, y: Tensor, _ a: Activation) throws -> Tensor {
    try activation(dy: DoubleTensor(dy), y: DoubleTensor(y), a).float
  }

  static func derivative(output y: Double, _ a: Activation) -> Double {
    switch a {
    case .identity: return 1
    case .relu: return y > 0 ? 1 : 0
    case .relu6: return y > 0 && y < 6 ? 1 : 0
    case .leakyRelu(let alpha): return y > 0 ? 1 : alpha
    case .elu(let alpha): return y > 0 ? 1 : y + alpha
    case .sigmoid: return y * (1 - y)
    case .tanh: return 1 - y * y
    case .softmax, .logSoftmax: return 1  // lanes, handled by the caller
    }
  }
}
