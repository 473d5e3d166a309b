// The error a kernel builder throws when the types it is given do not fit the kernel, and the checks behind it.
import KilnIR

/// Why a kernel cannot be built for the types it was given. Names the kernel and what was expected.
/// Shape inference rejects such graphs first; this keeps a bad type from ever becoming a crash or bad C.
public struct KernelShapeError: Error, Hashable, Sendable, CustomStringConvertible {
  /// The C function that was being built, e.g. `k2_maxpool_p1`.
  public var kernel: String
  /// What is wrong and what was expected.
  public var message: String

  /// An error of `kernel`: `message` says what is wrong and what was expected.
  public init(kernel: String, _ message: String) {
    self.kernel = kernel
    self.message = message
  }

  /// `kernel k2_maxpool_p1: input f32[3, 5] has rank 2; expected [C, H, W]`.
  public var description: String { "kernel \(kernel): \(message)" }
}

/// Checks shared by the kernel builders.
enum KernelChecks {
  /// The largest per-sample element count a kernel accepts: flat indices are C `long`, loop bounds `int`.
  static let maxElements = Int(Int32.max)

  /// Requires an f32 type of one of `ranks`, every dimension at least 1, and at most `maxElements` elements.
  /// Returns the element count.
  @discardableResult
  static func require(
    _ type: TensorType, _ what: String, ranks: ClosedRange<Int>, layout: String, kernel: String
  ) throws -> Int {
    guard type.dtype == .f32 else {
      throw KernelShapeError(kernel: kernel, "\(what) is \(type); expected f32 \(layout)")
    }
    guard ranks.contains(type.rank) else {
      throw KernelShapeError(kernel: kernel, "\(what) \(type) has rank \(type.rank); expected \(layout)")
    }
    var count = 1
    for d in type.dims {
      guard d >= 1 else { throw KernelShapeError(kernel: kernel, "\(what) \(type) has an empty dimension") }
      let (product, overflow) = count.multipliedReportingOverflow(by: d)
      guard !overflow, product <= maxElements else {
        throw KernelShapeError(kernel: kernel, "\(what) \(type) holds more than \(maxElements) values per sample")
      }
      count = product
    }
    return count
  }
}
