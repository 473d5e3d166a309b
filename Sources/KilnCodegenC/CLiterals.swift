// C spellings of numbers and activation functions, shared by every kernel.
import Foundation
import KilnIR

/// Exact C float literal: hexadecimal floating point, e.g. `0x1.99999ap-4f`; `0.0f` for zero.
public func cFloat(_ x: Float) -> String {
  if x == 0 { return x.sign == .minus ? "-0.0f" : "0.0f" }
  if x.isNaN { return "NAN" }
  if x.isInfinite { return x < 0 ? "-INFINITY" : "INFINITY" }
  return hexLiteral(Double(x)) + "f"
}

/// C's `%a` of a finite, non-zero double, as glibc prints it ("0x1.8p+3", "-0x1p-2"): written out here because
/// `String(format:)` took a fifth of `kiln compile`'s own time on LeNet-5's 61,760 embedded weights.
func hexLiteral(_ d: Double) -> String {
  var out: [UInt8] = []
  out.reserveCapacity(24)
  if d.sign == .minus { out.append(UInt8(ascii: "-")) }
  out += Array("0x1".utf8)
  // A float widened to double is always a normal double: 1.fraction × 2^exponent.
  var fraction = d.significandBitPattern
  if fraction != 0 {
    out.append(UInt8(ascii: "."))
    var count = 13
    while fraction & 0xF == 0 {
      fraction >>= 4
      count -= 1
    }
    for i in stride(from: count - 1, through: 0, by: -1) {
      out.append(hexDigits[Int((fraction >> (4 * UInt64(i))) & 0xF)])
    }
  }
  let exponent = Int(d.exponent)
  out += Array("p\(exponent < 0 ? "-" : "+")\(abs(exponent))".utf8)
  return String(decoding: out, as: UTF8.self)
}

private let hexDigits: [UInt8] = Array("0123456789abcdef".utf8)

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
