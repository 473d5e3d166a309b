// C spellings of numbers and activation functions, shared by every kernel.
import Foundation
import KilnIR

/// Exact C float literal: hexadecimal floating point, e.g. `0x1.99999ap-4f`; `0.0f` for zero.
public func cFloat(_ x: Float) -> String {
  if x == 0 { return x.sign == .minus ? "-0.0f" : "0.0f" }
  if x.isNaN { return "NAN" }
  if x.isInfinite { return x < 0 ? "-INFINITY" : "INFINITY" }
  return String(format: "%af", Double(x))
}

/// `cFloat` of a Double attribute (alpha, epsilon, …) after rounding to float, as the kernel computes in float.
public func cFloat(_ x: Double) -> String { cFloat(Float(x)) }

/// The C expression of an elementwise activation applied to the float expression `v`.
/// The comparisons mirror the reference interpreter's, so NaN passes through as in PyTorch.
/// Softmax and log-softmax are not elementwise; they have their own kernel.
public func cActivation(_ a: Activation, _ v: String) -> String {
  switch a {
  case .identity: return v
  case .relu: return "(\(v) < 0.0f ? 0.0f : \(v))"
  case .relu6: return "(\(v) < 0.0f ? 0.0f : (\(v) > 6.0f ? 6.0f : \(v)))"
  case .leakyRelu(let alpha): return "(\(v) >= 0.0f ? \(v) : \(cFloat(alpha)) * \(v))"
  case .elu(let alpha): return "(\(v) > 0.0f ? \(v) : \(cFloat(alpha)) * expm1f(\(v)))"
  // Two branches so that e^|v| never overflows into inf/inf.
  case .sigmoid: return "(\(v) >= 0.0f ? 1.0f / (1.0f + expf(-\(v))) : expf(\(v)) / (1.0f + expf(\(v))))"
  case .tanh: return "tanhf(\(v))"
  case .softmax, .logSoftmax:
    preconditionFailure("softmax and log_softmax are lowered to their own kernel, not an elementwise expression")
  }
}
