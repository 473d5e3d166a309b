// Safetensors files for the runtime tests: a small network's parameters, written by KilnData or by hand.
import Foundation
import KilnData
import KilnIR
import KilnTestSupport

/// The parameters the runtime tests load, and files that hold them.
enum SafeTensorsFixtures {
  /// The network's parameter table, in params order: a conv, a batch norm and a dense layer.
  static let table: [(name: String, shape: [Int])] = [
    ("c1.weight", [2, 1, 3, 3]), ("c1.bias", [2]), ("bn1.weight", [2]), ("bn1.bias", [2]),
    ("bn1.running_mean", [2]), ("bn1.running_var", [2]), ("fc.weight", [3, 2]), ("fc.bias", [3]),
  ]

  /// Seeded values for every tensor of `table`.
  static let tensors: [NamedTensor] = {
    var random = SeededRandom(seed: 7)
    return table.map { NamedTensor($0.name, .f32(random.tensor($0.shape, low: -2, high: 2))) }
  }()

  /// The float bits `params` must hold after loading `tensors`.
  static var expectedBits: [UInt32] {
    tensors.flatMap { t -> [UInt32] in
      guard case .f32(let f) = t.tensor else { return [] }
      return f.data.map(\.bitPattern)
    }
  }

  /// A valid file written by KilnData's SafeTensors writer (with metadata, as PyTorch writes it).
  static func valid(extra: [NamedTensor] = [], dropping: Set<String> = []) throws -> [UInt8] {
    try SafeTensors.encode(
      tensors.filter { !dropping.contains($0.name) } + extra, metadata: ["format": "pt"], path: "fixture")
  }

  /// A file from a header text and a data buffer, exactly as given.
  static func file(header: String, data: [UInt8]) -> [UInt8] {
    let text = Array(header.utf8)
    return littleEndian(UInt64(text.count)) + text + data
  }

  /// One hand-written header entry: a dtype the writer does not produce, or offsets it would not write.
  struct Entry {
    var name: String
    var dtype: String
    var shape: [Int]
    var data: [UInt8]
    /// The JSON key as written (escapes allowed); the plain name when nil.
    var key: String? = nil
    /// data_offsets as written; the running position when nil.
    var offsets: (Int, Int)? = nil
  }

  /// A file of `entries`, laid out back to back in order.
  static func file(_ entries: [Entry]) -> [UInt8] {
    var data: [UInt8] = []
    var fields: [String] = []
    for e in entries {
      let (begin, end) = e.offsets ?? (data.count, data.count + e.data.count)
      data += e.data
      let shape = e.shape.map(String.init).joined(separator: ",")
      fields.append(
        "\"\(e.key ?? e.name)\":{\"dtype\":\"\(e.dtype)\",\"shape\":[\(shape)],\"data_offsets\":[\(begin),\(end)]}")
    }
    return file(header: "{" + fields.joined(separator: ",") + "}", data: data)
  }

  /// The table's tensors stored as `dtype` ("F32", "F16", "BF16" or "F64"), with the floats they load as.
  static func converted(_ dtype: String) -> (entries: [Entry], bits: [UInt32]) {
    var bits: [UInt32] = []
    let entries = tensors.map { t -> Entry in
      guard case .f32(let f) = t.tensor else { return Entry(name: t.name, dtype: dtype, shape: [], data: []) }
      var data: [UInt8] = []
      for x in f.data {
        switch dtype {
        case "F16":
          let h = Float16(x)
          data += littleEndian(h.bitPattern)
          bits.append(Float(h).bitPattern)
        case "BF16":
          let b = UInt16(truncatingIfNeeded: x.bitPattern >> 16)
          data += littleEndian(b)
          bits.append(UInt32(b) << 16)
        case "F64":
          let d = Double(x) * (1 + 0x1p-40)  // not a float: the loader must round
          data += littleEndian(d.bitPattern)
          bits.append(Float(d).bitPattern)
        default:
          data += littleEndian(x.bitPattern)
          bits.append(x.bitPattern)
        }
      }
      return Entry(name: t.name, dtype: dtype, shape: f.shape, data: data)
    }
    return (entries, bits)
  }

  static func littleEndian<T: FixedWidthInteger>(_ value: T) -> [UInt8] {
    (0..<(T.bitWidth / 8)).map { UInt8(truncatingIfNeeded: value >> (8 * $0)) }
  }

  /// Writes `files` into a fresh folder; returns their paths, in order.
  static func write(_ files: [[UInt8]], in dir: URL) throws -> [String] {
    try files.enumerated().map { i, bytes in
      let url = dir.appendingPathComponent("f\(i).safetensors")
      try Data(bytes).write(to: url)
      return url.path
    }
  }
}
