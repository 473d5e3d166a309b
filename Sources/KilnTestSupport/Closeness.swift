// Numerical comparison of tensors with a stated tolerance, reporting where and how badly they differ.
import KilnIR
import Testing

/// How two tensors differ: the largest absolute error, where it is, and the normalized mean squared error.
public struct Difference: CustomStringConvertible, Sendable {
  public var maxAbsError: Double
  public var index: Int
  public var expected: Double
  public var actual: Double
  public var nmse: Double
  /// The element furthest outside the tolerance (largest |a − e| / (atol + rtol·|e|)), when it is not the one
  /// with the largest absolute error: near-zero values fail on a small error that the maximum hides.
  public var worstOutside: (index: Int, expected: Double, actual: Double)? = nil
  public var description: String {
    var text = "max |error| \(maxAbsError) at flat index \(index) (expected \(expected), got \(actual)); NMSE \(nmse)"
    if let w = worstOutside {
      text += "; furthest outside the tolerance: flat index \(w.index) (expected \(w.expected), got \(w.actual))"
    }
    return text
  }
}

/// Compares element by element. Returns nil when every |a − e| ≤ atol + rtol·|e| (NaN matches NaN only).
public func difference(_ actual: [Float], _ expected: [Float], rtol: Double, atol: Double) -> Difference? {
  var worst: Difference? = nil
  var failed = false
  var outside: (ratio: Double, index: Int, expected: Double, actual: Double)? = nil
  var sqErr = 0.0
  var sqRef = 0.0
  for i in 0..<min(actual.count, expected.count) {
    let a = Double(actual[i])
    let e = Double(expected[i])
    if a.isNaN && e.isNaN { continue }
    let err = abs(a - e)
    sqErr += err.isFinite ? err * err : .infinity
    sqRef += e * e
    let bad = !(err <= atol + rtol * abs(e))
    if bad {
      failed = true
      let ratio = err.isNaN ? .infinity : err / (atol + rtol * abs(e))
      if outside == nil || ratio > outside!.ratio { outside = (ratio, i, e, a) }
    }
    if worst == nil || err > worst!.maxAbsError || (err.isNaN && !worst!.maxAbsError.isNaN) {
      worst = Difference(maxAbsError: err, index: i, expected: e, actual: a, nmse: 0)
    }
  }
  if !failed && actual.count == expected.count { return nil }
  var w = worst ?? Difference(maxAbsError: .nan, index: 0, expected: .nan, actual: .nan, nmse: 0)
  w.nmse = sqRef > 0 ? sqErr / sqRef : sqErr
  if let o = outside, o.index != w.index { w.worstOutside = (o.index, o.expected, o.actual) }
  return w
}

/// Expects two tensors to have one shape and to agree within `rtol`/`atol`; on failure records the
/// largest error, its index and the NMSE.
public func expectClose(
  _ actual: Tensor, _ expected: Tensor, rtol: Double = 1e-4, atol: Double = 1e-6, _ what: String = "",
  sourceLocation: Testing.SourceLocation = #_sourceLocation
) {
  guard actual.shape == expected.shape else {
    Issue.record("\(what) shape \(actual.shape) != expected \(expected.shape)", sourceLocation: sourceLocation)
    return
  }
  if let d = difference(actual.data, expected.data, rtol: rtol, atol: atol) {
    Issue.record("\(what) differs (rtol \(rtol), atol \(atol)): \(d)", sourceLocation: sourceLocation)
  }
}
