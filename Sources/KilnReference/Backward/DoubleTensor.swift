// A Double-precision tensor: the working type of the gradient reference and its finite-difference checks.
import KilnIR

/// A row-major tensor of Doubles with its full shape, batch first, like `Tensor`.
///
/// The gradients are computed on these: every VJP in `ReferenceGradients` has a `DoubleTensor` form that is
/// the definition, and a `Tensor` form that converts its operands exactly (every Float is a Double) and
/// rounds each result once. `DoubleReferenceOps` is the matching forward in Double, so that central finite
/// differences of the forward can check the backward to far below Float's resolution.
public struct DoubleTensor: Hashable, Sendable, CustomStringConvertible {
  /// The full shape.
  public var shape: [Int]
  /// The elements in row-major order.
  public var data: [Double]

  /// A tensor of `shape` holding `data`; the counts must agree.
  /// - Throws: `ReferenceError` when `data` does not have `shape`'s element count.
  public init(shape: [Int], data: [Double]) throws {
    guard shape.allSatisfy({ $0 >= 0 }), shape.reduce(1, *) == data.count else {
      throw ReferenceError("tensor data has \(data.count) elements; shape \(Shapes.format(shape)) needs another count")
    }
    self.shape = shape
    self.data = data
  }

  /// Used where the count is correct by construction.
  init(checked shape: [Int], _ data: [Double]) {
    self.shape = shape
    self.data = data
  }

  /// Zeros of `shape`.
  public init(zeros shape: [Int]) { self.init(checked: shape, [Double](repeating: 0, count: shape.reduce(1, *))) }

  /// The exact Double image of a Float tensor.
  public init(_ t: Tensor) { self.init(checked: t.shape, t.data.map(Double.init)) }

  /// The tensor rounded to Float, element by element (round to nearest).
  public var float: Tensor { Tensor(shape: shape, data: data.map { Float($0) }) }

  /// The number of elements.
  public var count: Int { data.count }

  /// The same elements under another shape of equal count.
  func reshaped(_ newShape: [Int]) -> DoubleTensor { DoubleTensor(checked: newShape, data) }

  /// `DoubleTensor[2, 3]`.
  public var description: String { "DoubleTensor\(shape)" }
}
