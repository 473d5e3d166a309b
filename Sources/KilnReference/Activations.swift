// The reference activations: elementwise ones, and softmax / log_softmax over dimension 1.
import Foundation
import KilnIR

extension ReferenceOps {
  /// Applies an activation, computed in Double and rounded once to Float:
  /// relu max(x, 0); relu6 min(max(x, 0), 6); leaky_relu x ≥ 0 ? x : α·x; elu x > 0 ? x : α·(eˣ − 1);
  /// sigmoid 1/(1 + e⁻ˣ); tanh; identity; softmax and log_softmax over dimension 1 (nn.Softmax(dim=1)),
  /// stabilized by subtracting the maximum over the dimension, so large |x| gives no NaN or ∞.
  public static func activation(_ x: Tensor, _ a: Activation) throws -> Tensor {
    let shape = try Shapes.activation(input: x.shape, a)
    switch a {
    case .identity:
      return x
    case .softmax, .logSoftmax:
      return softmax(x, log: a == .logSoftmax)
    case .relu, .relu6, .leakyRelu, .elu, .sigmoid, .tanh:
      return Tensor(shape: shape, data: x.data.map { Float(activate(Double($0), a)) })
    }
  }

  /// One elementwise activation on a scalar.
  static func activate(_ v: Double, _ a: Activation) -> Double {
    switch a {
    case .identity, .softmax, .logSoftmax: return v
    // Comparisons written so that NaN passes through, as in PyTorch.
    case .relu: return v < 0 ? 0 : v
    case .relu6: return v < 0 ? 0 : (v > 6 ? 6 : v)
    case .leakyRelu(let alpha): return v >= 0 ? v : alpha * v
    case .elu(let alpha): return v > 0 ? v : alpha * expm1(v)
    // Two branches so that e^|x| never overflows into ∞/∞.
    case .sigmoid: return v >= 0 ? 1 / (1 + exp(-v)) : exp(v) / (1 + exp(v))
    case .tanh: return Foundation.tanh(v)
    }
  }

  /// softmax(x)_c = e^(x_c − m) / Σ_c' e^(x_c' − m), log_softmax(x)_c = x_c − m − log Σ_c' e^(x_c' − m),
  /// with m = max_c x_c, over dimension 1 of [N, C, …] for every sample and spatial position.
  private static func softmax(_ x: Tensor, log: Bool) -> Tensor {
    let (outer, channels) = (x.shape[0], x.shape[1])
    let inner = x.shape.dropFirst(2).reduce(1, *)
    var y = [Float](repeating: 0, count: x.count)
    for s in 0..<outer {
      for e in 0..<inner {
        // The C values of (sample s, position e) sit `inner` apart, from `first` on.
        let first = s * channels * inner + e
        let lane = stride(from: first, to: first + channels * inner, by: inner)
        var m = -Double.infinity
        for i in lane { m = max(m, Double(x.data[i])) }
        var sum = 0.0
        for i in lane { sum += exp(Double(x.data[i]) - m) }
        let logSum = Foundation.log(sum)
        for i in lane {
          let shifted = Double(x.data[i]) - m
          y[i] = Float(log ? shifted - logSum : exp(shifted) / sum)
        }
      }
    }
    return Tensor(shape: x.shape, data: y)
  }

  /// log Σ_c e^(row_c), stabilized by the row maximum.
  static func logSumExp(_ row: ArraySlice<Float>) -> Double {
    var m = -Double.infinity
    for v in row { m = max(m, Double(v)) }
    var sum = 0.0
    for v in row { sum += exp(Double(v) - m) }
    return m + log(sum)
  }
}
