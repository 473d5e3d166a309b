// Element types and per-sample tensor types. The batch is never part of a spec's shape.

/// The element type of a value.
public enum DType: String, Hashable, Sendable, CaseIterable {
  case f32
  /// Class indices (labels); stored as Int64 like PyTorch's targets.
  case i64

  public var byteSize: Int { self == .f32 ? 4 : 8 }
}

/// The type of a value: element type and per-sample dimensions.
///
/// `batched` values carry an implicit leading batch dimension N chosen at compile time;
/// a loss is the one unbatched value (a scalar averaged over the batch).
public struct TensorType: Hashable, Sendable, CustomStringConvertible {
  public var dtype: DType
  /// Per-sample dimensions, e.g. [C, H, W] for an image or [units] after a dense layer.
  public var dims: [Int]
  public var batched: Bool

  public init(_ dtype: DType = .f32, _ dims: [Int], batched: Bool = true) {
    self.dtype = dtype
    self.dims = dims
    self.batched = batched
  }

  /// Elements per sample.
  public var elementCount: Int { dims.reduce(1, *) }
  public var rank: Int { dims.count }

  /// `f32[6, 28, 28]`.
  public var description: String { "\(dtype.rawValue)[\(dims.map(String.init).joined(separator: ", "))]" }

  /// The full shape with a batch of `n`: [n] + dims for batched values, dims otherwise.
  public func shape(batch n: Int) -> [Int] { batched ? [n] + dims : dims }
}
