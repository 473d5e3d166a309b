// The safetensors format: an 8-byte header length, a JSON header, then every tensor's bytes back to back.

import KilnIR

/// A tensor with its name, as stored in a file.
public struct NamedTensor: Hashable, Sendable {
  /// The tensor's name, e.g. `conv1.weight`.
  public var name: String
  /// The tensor: f32 or i64.
  public var tensor: AnyTensor

  /// Pairs `name` with `tensor`.
  public init(_ name: String, _ tensor: AnyTensor) {
    self.name = name
    self.tensor = tensor
  }
}

/// Reading and writing safetensors files (https://github.com/huggingface/safetensors).
///
/// Layout: u64 little-endian N, N bytes of UTF-8 JSON
/// `{"name": {"dtype": "F32", "shape": [..], "data_offsets": [begin, end]}, …, "__metadata__": {"k": "v"}}`,
/// then the data buffer; offsets are relative to the buffer's start and must tile it exactly.
public enum SafeTensors {
  /// What a safetensors file holds.
  public struct Contents: Hashable, Sendable {
    /// The tensors, in the order the header lists them.
    public var tensors: [NamedTensor]
    /// The header's `__metadata__` (empty when absent).
    public var metadata: [String: String]

    /// Bundles tensors and metadata.
    public init(tensors: [NamedTensor], metadata: [String: String] = [:]) {
      self.tensors = tensors
      self.metadata = metadata
    }
  }

  /// The stored element types Kiln reads. Floats become f32, integers and booleans i64.
  static let dtypes: [String: ElementDecoding] = [
    "F64": .float64, "F32": .float32, "F16": .float16, "BF16": .bfloat16,
    "I64": .signed(width: 8), "I32": .signed(width: 4), "I16": .signed(width: 2), "I8": .signed(width: 1),
    "U32": .unsigned(width: 4), "U16": .unsigned(width: 2), "U8": .unsigned(width: 1), "BOOL": .bool,
  ]
  private static let dtypeList = "F32, F64, F16, BF16, I64, I32, I16, I8, U32, U16, U8, BOOL"

  /// Reads the safetensors file at `path`, validating its header and offsets.
  public static func read(from path: String) throws -> Contents {
    try decode(try FileBytes.read(path), path: path)
  }

  /// Writes `tensors` (f32 as F32, i64 as I64) and `metadata` to `path`, atomically.
  public static func write(_ tensors: [NamedTensor], metadata: [String: String] = [:], to path: String) throws {
    try AtomicFile.write(try encode(tensors, metadata: metadata, path: path), to: path)
  }

  /// The bytes of a safetensors file, as `read(from:)` would see them; `path` names the source in errors.
  public static func decode(_ bytes: [UInt8], path: String) throws -> Contents {
    guard bytes.count >= 8 else {
      throw DataError(path: path, "file is \(bytes.count) bytes, too short for the 8-byte header length")
    }
    let headerLength = bytes.loadUnsigned(at: 0, width: 8, order: .little)
    guard headerLength <= UInt64(bytes.count - 8) else {
      throw DataError(
        path: path, "header length \(headerLength) goes beyond the end of the file (\(bytes.count - 8) bytes follow it)"
      )
    }
    let bufferStart = 8 + Int(headerLength)
    let header: JSONValue
    do {
      header = try JSONParser.parse(Array(bytes[8..<bufferStart]))
    } catch let e as JSONSyntaxError {
      throw DataError(path: path, "header is not valid JSON: \(e)")
    }
    guard case .object(let members) = header else {
      throw DataError(path: path, "header is \(header.kind), expected a JSON object of tensors")
    }

    var entries: [Entry] = []
    var metadata: [String: String]?
    var seen: Set<String> = []
    for (name, value) in members {
      guard seen.insert(name).inserted else {
        throw DataError(path: path, tensor: name, "duplicate name in the header")
      }
      if name == "__metadata__" {
        metadata = try parseMetadata(value, path: path)
      } else {
        entries.append(try parseEntry(name, value, path: path))
      }
    }

    let bufferSize = bytes.count - bufferStart
    try checkLayout(entries, bufferSize: bufferSize, path: path)

    var tensors: [NamedTensor] = []
    for e in entries {
      let start = bufferStart + e.begin
      if e.decoding.isFloat {
        let data = e.decoding.floats(bytes, at: start, count: e.count, order: .little)
        tensors.append(NamedTensor(e.name, .f32(Tensor(shape: e.shape, data: data))))
        continue
      }
      let (data, badBool) = e.decoding.ints(bytes, at: start, count: e.count, order: .little)
      if let bad = badBool {
        throw DataError(path: path, tensor: e.name, "BOOL element \(bad) is \(bytes[start + bad]), expected 0 or 1")
      }
      tensors.append(NamedTensor(e.name, .i64(IntTensor(shape: e.shape, data: data))))
    }
    return Contents(tensors: tensors, metadata: metadata ?? [:])
  }

  /// The bytes of a safetensors file holding `tensors` and `metadata`.
  ///
  /// Like the reference implementation, the data is laid out by decreasing element size and then by name
  /// (so I64 before F32, keeping every tensor aligned to its element size), the header lists
  /// `__metadata__` first and then the tensors in data order, and it is padded with spaces to a multiple of 8 bytes.
  public static func encode(_ tensors: [NamedTensor], metadata: [String: String] = [:], path: String) throws -> [UInt8]
  {
    var names: Set<String> = []
    for t in tensors {
      guard t.name != "__metadata__" else {
        throw DataError(path: path, tensor: t.name, "the name '__metadata__' is reserved for the header's metadata")
      }
      guard names.insert(t.name).inserted else { throw DataError(path: path, tensor: t.name, "duplicate tensor name") }
    }
    let ordered = tensors.sorted { a, b in
      let (sa, sb) = (a.tensor.dtype.byteSize, b.tensor.dtype.byteSize)
      return sa != sb ? sa > sb : a.name < b.name
    }
    var fields: [String] = []
    if !metadata.isEmpty {
      let pairs = metadata.sorted { $0.key < $1.key }.map { "\(jsonQuoted($0.key)):\(jsonQuoted($0.value))" }
      fields.append("\"__metadata__\":{\(pairs.joined(separator: ","))}")
    }
    var data: [UInt8] = []
    for t in ordered {
      let begin = data.count
      switch t.tensor {
      case .f32(let f): data.appendLittleEndian(floats: f.data)
      case .i64(let i): data.appendLittleEndian(ints: i.data)
      }
      let dtype = t.tensor.dtype == .f32 ? "F32" : "I64"
      let shape = t.tensor.shape.map(String.init).joined(separator: ",")
      fields.append(
        "\(jsonQuoted(t.name)):{\"dtype\":\"\(dtype)\",\"shape\":[\(shape)],\"data_offsets\":[\(begin),\(data.count)]}")
    }
    var header = Array("{\(fields.joined(separator: ","))}".utf8)
    header.append(contentsOf: [UInt8](repeating: 0x20, count: (8 - header.count % 8) % 8))
    var out: [UInt8] = []
    out.reserveCapacity(8 + header.count + data.count)
    out.appendLittleEndian(UInt64(header.count))
    out.append(contentsOf: header)
    out.append(contentsOf: data)
    return out
  }

  /// One tensor's header entry, validated on its own.
  private struct Entry {
    var name: String
    var dtype: String
    var decoding: ElementDecoding
    var shape: [Int]
    var count: Int
    var begin: Int
    var end: Int
  }

  private static func parseMetadata(_ value: JSONValue, path: String) throws -> [String: String] {
    guard case .object(let pairs) = value else {
      throw DataError(path: path, "__metadata__ is \(value.kind), expected an object of strings")
    }
    var result: [String: String] = [:]
    for (k, v) in pairs {
      guard case .string(let s) = v else {
        throw DataError(path: path, "__metadata__ value of '\(k)' is \(v.kind), expected a string")
      }
      guard result.updateValue(s, forKey: k) == nil else {
        throw DataError(path: path, "__metadata__ has the key '\(k)' twice")
      }
    }
    return result
  }

  private static func parseEntry(_ name: String, _ value: JSONValue, path: String) throws -> Entry {
    func fail(_ message: String) -> DataError { DataError(path: path, tensor: name, message) }
    guard case .object(let pairs) = value else { throw fail("header entry is \(value.kind), expected an object") }
    var fields: [String: JSONValue] = [:]
    for (k, v) in pairs {
      guard ["dtype", "shape", "data_offsets"].contains(k) else {
        throw fail("unknown key '\(k)'; expected dtype, shape and data_offsets")
      }
      guard fields.updateValue(v, forKey: k) == nil else { throw fail("key '\(k)' appears twice") }
    }
    for k in ["dtype", "shape", "data_offsets"] where fields[k] == nil { throw fail("missing key '\(k)'") }

    guard case .string(let dtype) = fields["dtype"]! else {
      throw fail("dtype is \(fields["dtype"]!.kind), expected a string")
    }
    guard let decoding = dtypes[dtype] else { throw fail("unsupported dtype '\(dtype)'; expected one of \(dtypeList)") }

    guard case .array(let dims) = fields["shape"]!,
      let shape = try? dims.map({ d -> Int in
        guard let v = d.nonNegativeInt else { throw fail("") }
        return v
      })
    else { throw fail("shape must be an array of non-negative integers") }
    guard let count = checkedElementCount(shape), let size = checkedByteCount(count, width: decoding.width) else {
      throw fail("shape \(shapeText(shape)) is too large")
    }

    guard case .array(let offsets) = fields["data_offsets"]!, offsets.count == 2,
      let begin = offsets[0].nonNegativeInt, let end = offsets[1].nonNegativeInt
    else { throw fail("data_offsets must be two non-negative integers [begin, end]") }
    guard begin <= end else { throw fail("data_offsets [\(begin), \(end)] end before they begin") }
    guard end - begin == size else {
      throw fail(
        "data_offsets [\(begin), \(end)] hold \(end - begin) bytes, "
          + "but shape \(shapeText(shape)) of \(dtype) needs \(size)")
    }
    return Entry(name: name, dtype: dtype, decoding: decoding, shape: shape, count: count, begin: begin, end: end)
  }

  /// Every tensor must lie inside the buffer, none may overlap another, and together they must cover it
  /// with no holes (the reference implementation's rule, which keeps files from hiding other content).
  private static func checkLayout(_ entries: [Entry], bufferSize: Int, path: String) throws {
    for e in entries where e.end > bufferSize {
      throw DataError(
        path: path, tensor: e.name,
        "data_offsets [\(e.begin), \(e.end)] go beyond the data buffer of \(bufferSize) bytes")
    }
    let sorted = entries.sorted { ($0.begin, $0.end) < ($1.begin, $1.end) }
    var covered = 0
    var previous: Entry?
    for e in sorted {
      if e.begin < covered, let p = previous {
        throw DataError(
          path: path, tensor: e.name,
          "data_offsets [\(e.begin), \(e.end)] overlap tensor '\(p.name)' at [\(p.begin), \(p.end)]")
      }
      if e.begin > covered {
        throw DataError(path: path, "bytes \(covered)..<\(e.begin) of the data buffer belong to no tensor")
      }
      if e.end > covered || previous == nil {
        covered = e.end
        previous = e
      }
    }
    if covered < bufferSize {
      throw DataError(path: path, "bytes \(covered)..<\(bufferSize) of the data buffer belong to no tensor")
    }
  }
}
