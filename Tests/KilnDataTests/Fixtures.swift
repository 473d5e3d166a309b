// Shared helpers for the KilnData tests: scratch directories, byte builders, gzip, error assertions.

import CZlib
import Foundation
import KilnIR
import Testing

@testable import KilnData

/// A fresh, empty directory under the system's temporary directory, removed by `remove()`.
struct ScratchDirectory {
  let path: String

  init() throws {
    let base = NSTemporaryDirectory() + "kiln-data-tests-" + UUID().uuidString
    try FileManager.default.createDirectory(atPath: base, withIntermediateDirectories: true)
    path = base
  }

  /// The path of `name` inside the directory.
  func file(_ name: String) -> String { path + "/" + name }

  /// The names of the files in the directory, sorted, hidden ones included.
  func listing() throws -> [String] { try FileManager.default.contentsOfDirectory(atPath: path).sorted() }

  func remove() { try? FileManager.default.removeItem(atPath: path) }
}

/// Writes `bytes` to `path` non-atomically (fixtures only).
func writeFixture(_ bytes: [UInt8], to path: String) throws {
  try Data(bytes).write(to: URL(fileURLWithPath: path))
}

/// Little-endian byte builders for hand-made fixtures.
enum LE {
  static func u64(_ v: UInt64) -> [UInt8] { (0..<8).map { UInt8(truncatingIfNeeded: v >> (8 * UInt64($0))) } }
  static func u32(_ v: UInt32) -> [UInt8] { (0..<4).map { UInt8(truncatingIfNeeded: v >> (8 * UInt32($0))) } }
  static func u16(_ v: UInt16) -> [UInt8] { [UInt8(v & 0xFF), UInt8(v >> 8)] }
  static func f32(_ values: [Float]) -> [UInt8] { values.flatMap { u32($0.bitPattern) } }
  static func i64(_ values: [Int64]) -> [UInt8] { values.flatMap { u64(UInt64(bitPattern: $0)) } }
}

/// A safetensors file from a header written as JSON text and a data buffer, as a foreign writer would produce it.
func safetensorsBytes(header: String, data: [UInt8]) -> [UInt8] {
  let h = Array(header.utf8)
  return LE.u64(UInt64(h.count)) + h + data
}

/// The bytes of an IDX file: magic 00 00 08 rank, big-endian dims, data.
func idxBytes(shape: [Int], data: [UInt8], typeCode: UInt8 = 0x08) -> [UInt8] {
  var out: [UInt8] = [0, 0, typeCode, UInt8(shape.count)]
  for d in shape { out += (0..<4).map { UInt8(truncatingIfNeeded: UInt32(d) >> (8 * (3 - UInt32($0)))) } }
  return out + data
}

/// `bytes` gzip-compressed with zlib's deflate (gzip wrapper: 16 + MAX_WBITS).
func gzip(_ bytes: [UInt8]) -> [UInt8] {
  var stream = z_stream()
  let ok = deflateInit2_(
    &stream, Z_BEST_COMPRESSION, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY, zlibVersion(),
    Int32(MemoryLayout<z_stream>.size))
  #expect(ok == Z_OK)
  defer { deflateEnd(&stream) }
  var input = bytes
  var output = [UInt8](repeating: 0, count: Int(deflateBound(&stream, uLong(bytes.count))) + 64)
  let status = input.withUnsafeMutableBufferPointer { inp in
    output.withUnsafeMutableBufferPointer { out in
      stream.next_in = inp.baseAddress
      stream.avail_in = uInt(inp.count)
      stream.next_out = out.baseAddress
      stream.avail_out = uInt(out.count)
      return deflate(&stream, Z_FINISH)
    }
  }
  #expect(status == Z_STREAM_END)
  return Array(output[0..<Int(stream.total_out)])
}

/// Expects `body` to throw an error whose description contains every one of `fragments`.
func expectError(
  containing fragments: [String], sourceLocation: Testing.SourceLocation = #_sourceLocation, _ body: () throws -> Void
) {
  do {
    try body()
    Issue.record("expected an error containing \(fragments), but nothing was thrown", sourceLocation: sourceLocation)
  } catch {
    let text = String(describing: error)
    for f in fragments where !text.contains(f) {
      Issue.record("error \"\(text)\" does not contain \"\(f)\"", sourceLocation: sourceLocation)
    }
  }
}

/// The parameter specs of a node, as the graph would compute them.
func specs(_ name: String, _ op: Op, input: [Int]) -> [ParameterSpec] {
  Node(id: NodeID(0), name: name, op: op, inputs: []).parameters(inputTypes: [TensorType(.f32, input)])
}
