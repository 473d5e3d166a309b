// Activation functions: standalone ops, and the optional fused activation of dense and conv layers.

/// An activation. Semantics follow the PyTorch module of the same name.
/// `softmax` and `logSoftmax` normalize over dimension 1 (the channels, or the units of a dense layer),
/// like `nn.Softmax(dim=1)`; all others are elementwise.
public enum Activation: Hashable, Sendable, CustomStringConvertible {
  case identity
  case relu
  case relu6
  case leakyRelu(alpha: Double)
  case elu(alpha: Double)
  case sigmoid
  case tanh
  case softmax
  case logSoftmax

  /// Spec spelling of each activation, for diagnostics and docs.
  public static let specNames = [
    "identity", "relu", "relu6", "leaky_relu", "elu", "sigmoid", "tanh", "softmax", "log_softmax",
  ]

  public var isElementwise: Bool {
    switch self {
    case .softmax, .logSoftmax: return false
    default: return true
    }
  }

  /// The spec spelling, e.g. `leaky_relu(alpha: 0.01)`.
  public var description: String {
    switch self {
    case .identity: return "identity"
    case .relu: return "relu"
    case .relu6: return "relu6"
    case .leakyRelu(let a): return "leaky_relu(alpha: \(formatNumber(a)))"
    case .elu(let a): return "elu(alpha: \(formatNumber(a)))"
    case .sigmoid: return "sigmoid"
    case .tanh: return "tanh"
    case .softmax: return "softmax"
    case .logSoftmax: return "log_softmax"
    }
  }
}

/// Shortest readable spelling of a number: 2 rather than 2.0, 0.01 rather than 1e-02.
public func formatNumber(_ x: Double) -> String {
  if x == x.rounded(), abs(x) < 1e15 { return String(Int(x)) }
  return "\(x)"
}

extension Activation {
  /// Whether act′ can be computed from the output y = act(x) alone: true when act is increasing with
  /// act(0) = 0 (so y has x's sign), and for sigmoid, tanh, softmax and log_softmax, whose derivatives are
  /// functions of y. Autodiff then gives the activation's gradient y instead of x, so x can die at the
  /// activation; the interpreter's `ReferenceGradients.activation(dy:y:_:)` requires it.
  public var derivativeFollowsFromOutput: Bool {
    switch self {
    case .leakyRelu(let alpha), .elu(let alpha): return alpha > 0
    case .identity, .relu, .relu6, .sigmoid, .tanh, .softmax, .logSoftmax: return true
    }
  }
}
