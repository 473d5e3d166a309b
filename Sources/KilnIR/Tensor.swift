// Plain tensors in memory: row-major (C order) Float or Int64 storage with a full shape.

/// A float32 tensor with its full shape (batch included when there is one), row-major.
public struct Tensor: Hashable, Sendable, CustomStringConvertible {
  public var shape: [Int]
  public var data: [Float]

  public init(shape: [Int], data: [Float]) {
    precondition(shape.reduce(1, *) == data.count, "tensor data has \(data.count) elements, shape \(shape) needs \(shape.reduce(1, *))")
    self.shape = shape
    self.data = data
  }

  public init(zeros shape: [Int]) { self.init(shape: shape, data: [Float](repeating: 0, count: shape.reduce(1, *))) }

  public init(repeating value: Float, shape: [Int]) {
    self.init(shape: shape, data: [Float](repeating: value, count: shape.reduce(1, *)))
  }

  public var count: Int { data.count }

  /// Row-major strides of the shape.
  public var strides: [Int] {
    var s = [Int](repeating: 1, count: shape.count)
    var acc = 1
    for i in stride(from: shape.count - 1, through: 0, by: -1) {
      s[i] = acc
      acc *= shape[i]
    }
    return s
  }

  public subscript(indices: Int...) -> Float {
    get { data[offset(indices)] }
    set { data[offset(indices)] = newValue }
  }

  public func offset(_ indices: [Int]) -> Int {
    precondition(indices.count == shape.count, "index rank \(indices.count) for shape \(shape)")
    var o = 0
    for (i, n) in zip(indices, shape) {
      precondition(i >= 0 && i < n, "index \(indices) out of range for \(shape)")
      o = o * n + i
    }
    return o
  }

  public func reshaped(_ newShape: [Int]) -> Tensor { Tensor(shape: newShape, data: data) }

  public var description: String { "Tensor\(shape)" }
}

/// An Int64 tensor, for class labels.
public struct IntTensor: Hashable, Sendable {
  public var shape: [Int]
  public var data: [Int64]
  public init(shape: [Int], data: [Int64]) {
    precondition(shape.reduce(1, *) == data.count)
    self.shape = shape
    self.data = data
  }
}

/// Either kind of tensor, as read from a file.
public enum AnyTensor: Hashable, Sendable {
  case f32(Tensor)
  case i64(IntTensor)

  public var shape: [Int] {
    switch self {
    case .f32(let t): return t.shape
    case .i64(let t): return t.shape
    }
  }
  public var dtype: DType {
    switch self {
    case .f32: return .f32
    case .i64: return .i64
    }
  }
}
