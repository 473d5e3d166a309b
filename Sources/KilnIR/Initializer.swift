// How a parameter is initialized when no weights file is given.

/// A weight initializer. fan_in = in_channels/groups·kh·kw (conv) or in (dense); fan_out likewise with out.
/// Formulas follow `torch.nn.init`.
public enum Initializer: Hashable, Sendable, CustomStringConvertible {
  /// U(−a, a), a = √(6/(fan_in+fan_out)).
  case glorotUniform
  /// N(0, σ²), σ = √(2/(fan_in+fan_out)).
  case glorotNormal
  /// U(−a, a), a = √(6/fan_in)  (kaiming_uniform_, gain √2).
  case heUniform
  /// N(0, σ²), σ = √(2/fan_in)  (kaiming_normal_).
  case heNormal
  case zeros
  case ones
  case constant(Double)
  /// N(mean, std²).
  case normal(mean: Double, std: Double)
  /// U(a, b).
  case uniform(low: Double, high: Double)
  /// PyTorch's default for nn.Linear/nn.Conv2d: U(−1/√fan_in, 1/√fan_in) for weight and bias alike.
  case torchDefault

  public var description: String {
    switch self {
    case .glorotUniform: return "glorot_uniform"
    case .glorotNormal: return "glorot_normal"
    case .heUniform: return "he_uniform"
    case .heNormal: return "he_normal"
    case .zeros: return "zeros"
    case .ones: return "ones"
    case .constant(let v): return "constant(\(formatNumber(v)))"
    case .normal(let m, let s): return m == 0 ? "normal(\(formatNumber(s)))" : "normal(mean: \(formatNumber(m)), std: \(formatNumber(s)))"
    case .uniform(let a, let b): return "uniform(\(formatNumber(a)), \(formatNumber(b)))"
    case .torchDefault: return "torch_default"
    }
  }
}
