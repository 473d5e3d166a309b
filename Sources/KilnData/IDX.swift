// The IDX format of MNIST-style datasets: a magic number giving element type and rank, big-endian dims, raw data.

import KilnIR

/// An unsigned-byte array read from an IDX file.
public struct IDXArray: Hashable, Sendable {
  /// The dimensions, e.g. [10000, 28, 28] for images or [10000] for labels.
  public var shape: [Int]
  /// The elements in row-major order.
  public var bytes: [UInt8]

  /// The magic number such an array is stored under: 0x0000_0800 | rank (0x803 for images, 0x801 for labels).
  public var magic: UInt32 { 0x0000_0800 | UInt32(shape.count) }
}

/// Reading IDX files (http://yann.lecun.com/exdb/mnist/), raw or gzip'd.
///
/// Layout: magic `00 00 TT RR` (TT the element type, RR the rank), RR big-endian u32 dimensions, then the
/// elements. Kiln reads unsigned bytes (TT = 0x08): images 0x00000803 [N, rows, cols], labels 0x00000801 [N].
public enum IDX {
  private static let typeNames: [UInt8: String] = [
    0x08: "unsigned byte", 0x09: "signed byte", 0x0B: "int16", 0x0C: "int32", 0x0D: "float32", 0x0E: "float64",
  ]

  /// Reads the IDX file at `path`, inflating it first when it is gzip'd (detected by content, not by name).
  public static func read(from path: String) throws -> IDXArray {
    var bytes = try FileBytes.read(path)
    if Gzip.isGzip(bytes) { bytes = try Gzip.decompress(bytes, path: path) }
    return try decode(bytes, path: path)
  }

  /// The array in the (uncompressed) bytes of an IDX file; `path` names the source in errors.
  public static func decode(_ bytes: [UInt8], path: String) throws -> IDXArray {
    guard bytes.count >= 4 else {
      throw DataError(path: path, "file is \(bytes.count) bytes, too short for the 4-byte IDX magic number")
    }
    let magic = UInt32(bytes.loadUnsigned(at: 0, width: 4, order: .big))
    guard bytes[0] == 0, bytes[1] == 0 else {
      throw DataError(
        path: path, "not an IDX file: magic number \(hex(magic)); expected 0x00000803 (images) or 0x00000801 (labels)")
    }
    let type = bytes[2]
    guard type == 0x08 else {
      let name = typeNames[type].map { "(\($0)) " } ?? ""
      throw DataError(
        path: path,
        "unsupported IDX element type code 0x\(hexByte(type)) \(name)in magic \(hex(magic)); "
          + "Kiln reads unsigned-byte (0x08) files such as 0x00000803 (images) and 0x00000801 (labels)")
    }
    let rank = Int(bytes[3])
    guard rank >= 1 else { throw DataError(path: path, "IDX magic \(hex(magic)) declares no dimensions") }
    let headerSize = 4 + 4 * rank
    guard bytes.count >= headerSize else {
      throw DataError(
        path: path, "truncated IDX header: \(rank) dimensions need \(headerSize) bytes, found \(bytes.count)")
    }
    let shape = (0..<rank).map { Int(bytes.loadUnsigned(at: 4 + 4 * $0, width: 4, order: .big)) }
    guard let count = checkedElementCount(shape) else {
      throw DataError(path: path, "IDX shape \(shapeText(shape)) is too large")
    }
    let found = bytes.count - headerSize
    guard found >= count else {
      throw DataError(
        path: path, "truncated IDX data: shape \(shapeText(shape)) needs \(count) bytes, found \(found)")
    }
    guard found == count else {
      throw DataError(
        path: path, "IDX data has \(found - count) bytes beyond the \(count) that shape \(shapeText(shape)) needs")
    }
    return IDXArray(shape: shape, bytes: Array(bytes[headerSize...]))
  }

  private static func hexByte(_ b: UInt8) -> String {
    let s = String(b, radix: 16, uppercase: true)
    return s.count == 1 ? "0" + s : s
  }

  static func hex(_ v: UInt32) -> String {
    let s = String(v, radix: 16, uppercase: true)
    return "0x" + String(repeating: "0", count: 8 - s.count) + s
  }
}
