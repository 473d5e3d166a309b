// gzip decompression through zlib, for the .gz dataset files Debian ships.

import CZlib

/// Inflating gzip data (one or more concatenated members) with zlib.
enum Gzip {
  /// Whether `bytes` start with the gzip magic number 1f 8b.
  static func isGzip(_ bytes: [UInt8]) -> Bool { bytes.count >= 2 && bytes[0] == 0x1F && bytes[1] == 0x8B }

  /// The decompressed contents of the gzip data `bytes`; `path` names the source in errors.
  static func decompress(_ bytes: [UInt8], path: String) throws -> [UInt8] {
    guard bytes.count <= Int(UInt32.max) else { throw DataError(path: path, "gzip file larger than 4 GiB") }
    var stream = z_stream()
    // inflateInit2 is a macro; 16 + MAX_WBITS selects the gzip wrapper.
    guard inflateInit2_(&stream, 16 + MAX_WBITS, zlibVersion(), Int32(MemoryLayout<z_stream>.size)) == Z_OK else {
      throw DataError(path: path, "cannot initialize zlib")
    }
    defer { inflateEnd(&stream) }

    var output: [UInt8] = []
    output.reserveCapacity(bytes.count * 2)
    var chunk = [UInt8](repeating: 0, count: 1 << 18)
    try bytes.withUnsafeBufferPointer { input in
      stream.next_in = UnsafeMutablePointer(mutating: input.baseAddress)
      stream.avail_in = uInt(input.count)
      while true {
        let status = chunk.withUnsafeMutableBufferPointer { out -> Int32 in
          stream.next_out = out.baseAddress
          stream.avail_out = uInt(out.count)
          return inflate(&stream, Z_NO_FLUSH)
        }
        output.append(contentsOf: chunk[0..<(chunk.count - Int(stream.avail_out))])
        switch status {
        case Z_OK:
          continue
        case Z_STREAM_END:
          guard stream.avail_in > 0 else { return }
          // Another gzip member may follow (as `cat a.gz b.gz` makes); anything else is not gzip data.
          let next = input.count - Int(stream.avail_in)
          guard next + 1 < input.count, input[next] == 0x1F, input[next + 1] == 0x8B else {
            throw DataError(path: path, "corrupt gzip data: \(stream.avail_in) bytes of trailing garbage")
          }
          guard inflateReset(&stream) == Z_OK else { throw DataError(path: path, "cannot reset zlib") }
        case Z_BUF_ERROR where stream.avail_in == 0:
          throw DataError(
            path: path,
            "corrupt gzip data: the stream ends early after \(output.count) decompressed bytes (truncated file?)")
        default:
          let reason = stream.msg.map { String(cString: $0) } ?? "zlib error \(status)"
          throw DataError(path: path, "corrupt gzip data: \(reason)")
        }
      }
    }
    return output
  }
}
