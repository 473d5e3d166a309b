// Little- and big-endian element decoding, half-precision conversions, and checked shape arithmetic.

/// The byte order of stored elements.
enum ByteOrder: Sendable {
  case little, big
}

extension Array where Element == UInt8 {
  /// Appends `value` as 4 little-endian bytes.
  mutating func appendLittleEndian(_ value: UInt32) {
    for i in 0..<4 { append(UInt8(truncatingIfNeeded: value >> (8 * UInt32(i)))) }
  }

  /// Appends `value` as 8 little-endian bytes.
  mutating func appendLittleEndian(_ value: UInt64) {
    for i in 0..<8 { append(UInt8(truncatingIfNeeded: value >> (8 * UInt64(i)))) }
  }

  /// Appends the elements of `values` as little-endian IEEE binary32.
  mutating func appendLittleEndian(floats values: [Float]) {
    reserveCapacity(count + 4 * values.count)
    for v in values { appendLittleEndian(v.bitPattern) }
  }

  /// Appends the elements of `values` as little-endian two's-complement 64-bit integers.
  mutating func appendLittleEndian(ints values: [Int64]) {
    reserveCapacity(count + 8 * values.count)
    for v in values { appendLittleEndian(UInt64(bitPattern: v)) }
  }

  /// The unsigned integer of `width` bytes (1, 2, 4 or 8) at `offset`, in `order`. The caller checks bounds.
  func loadUnsigned(at offset: Int, width: Int, order: ByteOrder) -> UInt64 {
    var value: UInt64 = 0
    for i in 0..<width {
      let byte = UInt64(self[offset + (order == .little ? i : width - 1 - i)])
      value |= byte << (8 * UInt64(i))
    }
    return value
  }
}

/// How to turn stored elements into Float or Int64.
enum ElementDecoding: Sendable {
  case float16, bfloat16, float32, float64
  case signed(width: Int)
  case unsigned(width: Int)
  case bool

  /// Bytes per element.
  var width: Int {
    switch self {
    case .float16, .bfloat16: return 2
    case .float32: return 4
    case .float64: return 8
    case .signed(let w), .unsigned(let w): return w
    case .bool: return 1
    }
  }

  /// Whether the elements become f32 (otherwise i64).
  var isFloat: Bool {
    switch self {
    case .float16, .bfloat16, .float32, .float64: return true
    case .signed, .unsigned, .bool: return false
    }
  }

  /// Decodes `count` elements starting at `offset` as floats. The caller checks bounds.
  func floats(_ bytes: [UInt8], at offset: Int, count: Int, order: ByteOrder) -> [Float] {
    var out = [Float](repeating: 0, count: count)
    let w = width
    for i in 0..<count {
      let raw = bytes.loadUnsigned(at: offset + i * w, width: w, order: order)
      switch self {
      case .float16: out[i] = floatFromHalf(UInt16(truncatingIfNeeded: raw))
      case .bfloat16: out[i] = Float(bitPattern: UInt32(truncatingIfNeeded: raw) << 16)
      case .float32: out[i] = Float(bitPattern: UInt32(truncatingIfNeeded: raw))
      case .float64: out[i] = Float(Double(bitPattern: raw))
      case .signed, .unsigned, .bool: out[i] = 0
      }
    }
    return out
  }

  /// Decodes `count` integer elements starting at `offset`; returns the index of the first bool that
  /// is neither 0 nor 1 as `badBool`. The caller checks bounds.
  func ints(_ bytes: [UInt8], at offset: Int, count: Int, order: ByteOrder) -> (values: [Int64], badBool: Int?) {
    var out = [Int64](repeating: 0, count: count)
    let w = width
    for i in 0..<count {
      let raw = bytes.loadUnsigned(at: offset + i * w, width: w, order: order)
      switch self {
      case .signed(let width):
        // Sign-extend from `width` bytes.
        let shift = UInt64(64 - 8 * width)
        out[i] = Int64(bitPattern: raw << shift) >> Int64(shift)
      case .unsigned: out[i] = Int64(bitPattern: raw)
      case .bool:
        guard raw <= 1 else { return (out, i) }
        out[i] = Int64(raw)
      case .float16, .bfloat16, .float32, .float64: out[i] = 0
      }
    }
    return (out, nil)
  }
}

/// IEEE binary16 → binary32, exactly (every half value is representable as a float).
func floatFromHalf(_ h: UInt16) -> Float {
  let sign = UInt32(h & 0x8000) << 16
  let exponent = Int((h >> 10) & 0x1F)
  let mantissa = UInt32(h & 0x3FF)
  switch exponent {
  case 0:
    // Zero or subnormal: mantissa · 2^−24, exact in binary32.
    let magnitude = Float(mantissa) * 0x1p-24
    return sign == 0 ? magnitude : -magnitude
  case 0x1F:
    return Float(bitPattern: sign | 0x7F80_0000 | (mantissa << 13))
  default:
    return Float(bitPattern: sign | UInt32(exponent - 15 + 127) << 23 | (mantissa << 13))
  }
}

/// The number of elements of `shape`, or nil when a dimension is negative or the product overflows.
func checkedElementCount(_ shape: [Int]) -> Int? {
  var n = 1
  for d in shape {
    guard d >= 0 else { return nil }
    let (p, overflow) = n.multipliedReportingOverflow(by: d)
    guard !overflow else { return nil }
    n = p
  }
  return n
}

/// `count · width`, or nil on overflow.
func checkedByteCount(_ count: Int, width: Int) -> Int? {
  let (p, overflow) = count.multipliedReportingOverflow(by: width)
  return overflow ? nil : p
}

/// `[2, 3]`, for messages.
func shapeText(_ shape: [Int]) -> String { "[\(shape.map(String.init).joined(separator: ", "))]" }
