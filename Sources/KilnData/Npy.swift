// NumPy's .npy format: magic, version, a Python-literal header padded to 64 bytes, then the raw array.

import KilnIR

/// Reading and writing NumPy `.npy` files (format versions 1.0, 2.0 and 3.0; C order).
///
/// Floats ('<f2', '<f4', '<f8') become f32; integers and booleans ('|i1' … '<i8', '|u1' … '<u4', '|b1') become i64.
/// Big-endian arrays ('>f4', …) are converted.
public enum Npy {
  private static let magic: [UInt8] = [0x93] + Array("NUMPY".utf8)
  private static let kinds = "f2, f4, f8, i1, i2, i4, i8, u1, u2, u4, b1"

  /// Reads the array in the .npy file at `path`.
  public static func read(from path: String) throws -> AnyTensor {
    try decode(try FileBytes.read(path), path: path)
  }

  /// Writes `tensor` to `path` as numpy.save would (f32 as '<f4', i64 as '<i8'), atomically.
  public static func write(_ tensor: AnyTensor, to path: String) throws {
    try AtomicFile.write(encode(tensor), to: path)
  }

  /// The array in the bytes of a .npy file; `path` names the source in errors.
  public static func decode(_ bytes: [UInt8], path: String) throws -> AnyTensor {
    func fail(_ message: String) -> DataError { DataError(path: path, message) }
    guard bytes.count >= 10, Array(bytes[0..<6]) == magic else {
      throw fail("not a .npy file: it does not start with \\x93NUMPY")
    }
    let (major, minor) = (bytes[6], bytes[7])
    guard (1...3).contains(major), minor == 0 else {
      throw fail("unsupported .npy format version \(major).\(minor); expected 1.0, 2.0 or 3.0")
    }
    let lengthWidth = major == 1 ? 2 : 4
    guard bytes.count >= 8 + lengthWidth else { throw fail("file ends inside the header length") }
    let headerLength = Int(bytes.loadUnsigned(at: 8, width: lengthWidth, order: .little))
    let dataStart = 8 + lengthWidth + headerLength
    guard dataStart <= bytes.count else {
      throw fail(
        "header length \(headerLength) goes beyond the end of the file (\(bytes.count - 8 - lengthWidth) bytes follow it)"
      )
    }
    let headerBytes = bytes[(8 + lengthWidth)..<dataStart]
    // Versions 1 and 2 store the header in Latin-1, version 3 in UTF-8.
    let headerText: String
    if major == 3 {
      guard let s = String(validating: headerBytes) else { throw fail("header is not valid UTF-8") }
      headerText = s
    } else {
      headerText = String(String.UnicodeScalarView(headerBytes.map { Unicode.Scalar($0) }))
    }
    let header = try parseHeader(headerText, fail: fail)

    guard let count = checkedElementCount(header.shape),
      let size = checkedByteCount(count, width: header.decoding.width)
    else { throw fail("shape \(shapeText(header.shape)) is too large") }
    let found = bytes.count - dataStart
    guard found == size else {
      throw fail(
        "data is \(found) bytes, but shape \(shapeText(header.shape)) of '\(header.descr)' needs \(size)")
    }
    if header.decoding.isFloat {
      let data = header.decoding.floats(bytes, at: dataStart, count: count, order: header.order)
      return .f32(Tensor(shape: header.shape, data: data))
    }
    let (data, badBool) = header.decoding.ints(bytes, at: dataStart, count: count, order: header.order)
    if let bad = badBool { throw fail("boolean element \(bad) is \(bytes[dataStart + bad]), expected 0 or 1") }
    return .i64(IntTensor(shape: header.shape, data: data))
  }

  /// The bytes numpy.save writes for `tensor`: a version 1.0 header (2.0 if it would not fit in 64 KiB),
  /// the dictionary with sorted keys and room for the first dimension to grow, padded with spaces and a
  /// newline so the data starts at a multiple of 64 bytes.
  public static func encode(_ tensor: AnyTensor) -> [UInt8] {
    let shape = tensor.shape
    let shapeRepr = shape.count == 1 ? "(\(shape[0]),)" : "(" + shape.map(String.init).joined(separator: ", ") + ")"
    let descr = tensor.dtype == .f32 ? "<f4" : "<i8"
    var header = "{'descr': '\(descr)', 'fortran_order': False, 'shape': \(shapeRepr), }"
    // numpy's GROWTH_AXIS_MAX_DIGITS: spare room so the first dimension can be rewritten in place.
    if let first = shape.first { header += String(repeating: " ", count: max(0, 21 - String(first).count)) }
    var prefix = magic + [1, 0]
    var lengthWidth = 2
    let hlen = header.utf8.count + 1
    var padding = 64 - (prefix.count + lengthWidth + hlen) % 64
    if hlen + padding > Int(UInt16.max) {
      prefix = magic + [2, 0]
      lengthWidth = 4
      padding = 64 - (prefix.count + lengthWidth + hlen) % 64
    }
    var out = prefix
    let total = UInt64(hlen + padding)
    for i in 0..<lengthWidth { out.append(UInt8(truncatingIfNeeded: total >> (8 * UInt64(i)))) }
    out.append(contentsOf: header.utf8)
    out.append(contentsOf: [UInt8](repeating: 0x20, count: padding))
    out.append(0x0A)
    switch tensor {
    case .f32(let t): out.appendLittleEndian(floats: t.data)
    case .i64(let t): out.appendLittleEndian(ints: t.data)
    }
    return out
  }

  private struct Header {
    var descr: String
    var decoding: ElementDecoding
    var order: ByteOrder
    var shape: [Int]
  }

  private static func parseHeader(_ text: String, fail: (String) -> DataError) throws -> Header {
    let literal: PythonLiteral
    do {
      literal = try PythonLiteral.parse(text)
    } catch {
      throw fail("header is not a Python dictionary literal: \(error)")
    }
    guard case .dict(let pairs) = literal else { throw fail("header is not a dictionary: \(literal.text)") }
    var fields: [String: PythonLiteral] = [:]
    for (k, v) in pairs {
      guard case .string(let key) = k, ["descr", "fortran_order", "shape"].contains(key) else {
        throw fail("unexpected header key \(k.text); expected 'descr', 'fortran_order' and 'shape'")
      }
      guard fields.updateValue(v, forKey: key) == nil else { throw fail("header key '\(key)' appears twice") }
    }
    for key in ["descr", "fortran_order", "shape"] where fields[key] == nil {
      throw fail("header has no '\(key)'")
    }
    guard case .string(let descr) = fields["descr"]! else {
      throw fail(
        "descr \(fields["descr"]!.text) is not supported: structured dtypes cannot be read; expected one of \(kinds)")
    }
    guard case .bool(let fortran) = fields["fortran_order"]! else {
      throw fail("fortran_order is \(fields["fortran_order"]!.text), expected True or False")
    }
    guard !fortran else {
      throw fail("fortran_order is True; Kiln reads C-order arrays only (save np.ascontiguousarray(a) instead)")
    }
    guard case .tuple(let dims) = fields["shape"]! else {
      throw fail("shape is \(fields["shape"]!.text), expected a tuple of non-negative integers")
    }
    var shape: [Int] = []
    for d in dims {
      guard case .int(let n) = d, n >= 0 else {
        throw fail("shape is \(fields["shape"]!.text), expected a tuple of non-negative integers")
      }
      shape.append(n)
    }

    let scalars = Array(descr.unicodeScalars)
    let kind = String(String.UnicodeScalarView(scalars.dropFirst()))
    let decodings: [String: ElementDecoding] = [
      "f2": .float16, "f4": .float32, "f8": .float64,
      "i1": .signed(width: 1), "i2": .signed(width: 2), "i4": .signed(width: 4), "i8": .signed(width: 8),
      "u1": .unsigned(width: 1), "u2": .unsigned(width: 2), "u4": .unsigned(width: 4), "b1": .bool,
    ]
    guard let orderChar = scalars.first, "<>|".unicodeScalars.contains(orderChar), let decoding = decodings[kind] else {
      throw fail("unsupported dtype '\(descr)'; expected a byte order (<, > or |) and one of \(kinds)")
    }
    guard orderChar != "|" || decoding.width == 1 else {
      throw fail("dtype '\(descr)' has no byte order, which only one-byte types may omit")
    }
    return Header(descr: descr, decoding: decoding, order: orderChar == ">" ? .big : .little, shape: shape)
  }
}

extension String {
  /// Decodes UTF-8 bytes, or nil when they are not valid UTF-8.
  fileprivate init?<C: Collection>(validating bytes: C) where C.Element == UInt8 {
    var scalars = String.UnicodeScalarView()
    var decoder = UTF8()
    var iterator = bytes.makeIterator()
    while true {
      switch decoder.decode(&iterator) {
      case .scalarValue(let s): scalars.append(s)
      case .emptyInput:
        self.init(scalars)
        return
      case .error: return nil
      }
    }
  }
}
