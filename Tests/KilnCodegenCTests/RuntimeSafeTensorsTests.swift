// kiln_rt_load_safetensors under ASan and UBSan: valid files of every loadable dtype, and each kind of defect.
import Foundation
import KilnCodegenC
import KilnData
import KilnIR
import KilnTestSupport
import Testing

@Suite struct RuntimeSafeTensorsTests {
  typealias F = SafeTensorsFixtures

  /// Loads `files` with the sanitized driver for the fixture table.
  static func load(_ files: [[UInt8]], table: [(name: String, shape: [Int])] = F.table) throws -> [LoadResult] {
    let dir = try PackagePaths.temporaryDirectory("kiln-runtime-st")
    defer { try? FileManager.default.removeItem(at: dir) }
    return try RuntimeDriver.sanitized.get().loadSafeTensors(table, files: try F.write(files, in: dir))
  }

  @Test func loadsTheWritersFile() throws {
    let result = try #require(try Self.load([try F.valid()]).first)
    #expect(result.status == .ok, "\(result)")
    #expect(result.detail == "")
    #expect(result.bits == F.expectedBits)
  }

  @Test func acceptsPyTorchBatchNormCounters() throws {
    let counter = NamedTensor("bn1.num_batches_tracked", .i64(IntTensor(shape: [], data: [12])))
    let result = try #require(try Self.load([try F.valid(extra: [counter])]).first)
    #expect(result.status == .ok, "\(result)")
    #expect(result.bits == F.expectedBits)
  }

  @Test(arguments: ["F32", "F16", "BF16", "F64"])
  func convertsEveryLoadableDtype(_ dtype: String) throws {
    let (entries, bits) = F.converted(dtype)
    let result = try #require(try Self.load([F.file(entries)]).first)
    #expect(result.status == .ok, "\(result)")
    #expect(result.bits == bits)
  }

  @Test func convertsSpecialValuesLikeIEEE() throws {
    // F16: 1, -0, the smallest subnormal, the largest subnormal, the smallest normal, 65504, -inf, a NaN.
    let halves: [UInt16] = [0x3C00, 0x8000, 0x0001, 0x03FF, 0x0400, 0x7BFF, 0xFC00, 0x7E01]
    // F64: above float range, below it, just under the midpoint between FLT_MAX and 2^128 (rounds down to
    // FLT_MAX), the midpoint itself (a tie: rounds to even, which is infinity), a subnormal double, NaN.
    let doubles: [Double] = [1e300, -1e300, 0x1.ffffffp127.nextDown, 0x1.ffffffp127, .leastNonzeroMagnitude, -.nan]
    let entries = [
      F.Entry(name: "h", dtype: "F16", shape: [8], data: halves.flatMap(F.littleEndian)),
      F.Entry(name: "d", dtype: "F64", shape: [6], data: doubles.flatMap { F.littleEndian($0.bitPattern) }),
    ]
    let result = try #require(try Self.load([F.file(entries)], table: [("h", [8]), ("d", [6])]).first)
    #expect(result.status == .ok, "\(result)")
    let expected: [UInt32] =
      [0x3F80_0000, 0x8000_0000, 0x3380_0000, 0x387F_C000, 0x3880_0000, 0x477F_E000, 0xFF80_0000, 0x7FC0_2000]
      + [0x7F80_0000, 0xFF80_0000, 0x7F7F_FFFF, 0x7F80_0000, 0x0000_0000, 0xFFC0_0000]
    #expect(result.bits.map { String($0, radix: 16) } == expected.map { String($0, radix: 16) })
  }

  @Test func readsEscapedNamesAndScalars() throws {
    // "c\u0031\u002eweight" is c1.weight; the scalar has shape [] and one element; a name may be any UTF-8.
    let entries = [
      F.Entry(
        name: "c1.weight", dtype: "F32", shape: [2], data: [0, 0, 0x80, 0x3F, 0, 0, 0, 0xC0],
        key: #"c\u0031\u002eweight"#),
      F.Entry(
        name: "t\u{E9}mp\u{1F600}", dtype: "F32", shape: [], data: [0, 0, 0x40, 0x40], key: #"t\u00e9mp\ud83d\ude00"#),
    ]
    let result = try #require(
      try Self.load([F.file(entries)], table: [("c1.weight", [2]), ("t\u{E9}mp\u{1F600}", [])]).first)
    #expect(result.status == .ok, "\(result)")
    #expect(result.bits == [0x3F80_0000, 0xC000_0000, 0x4040_0000])
  }

  /// One defective file and what the loader must say about it.
  struct Defect: Sendable, CustomTestStringConvertible {
    var label: String
    var bytes: [UInt8]
    var status: RuntimeStatus
    var detail: String
    /// The tensors the network asks for.
    var table: [(name: String, shape: [Int])] = F.table
    var testDescription: String { label }
  }

  static let defects: [Defect] = {
    let valid = (try? F.valid()) ?? []
    let one = [UInt8](repeating: 0, count: 8)  // the data of a [2] F32 tensor named w
    func json(_ label: String, _ header: String, _ status: RuntimeStatus = .format, detail: String) -> Defect {
      Defect(
        label: label, bytes: F.file(header: header, data: one), status: status, detail: detail, table: [("w", [2])])
    }
    let w = #""w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}"#
    var hugeLength = valid
    hugeLength.replaceSubrange(0..<8, with: [UInt8](repeating: 0xFF, count: 8))
    var badUTF8 = F.file(header: #"{"w\#u{FF}":{}}"#, data: one)
    badUTF8[11] = 0xFF  // the byte after "w, in place of the two-byte UTF-8 of U+00FF
    return [
      Defect(
        label: "empty file", bytes: [], status: .format,
        detail: "file is 0 bytes, too short for the 8-byte header length of a safetensors file"),
      Defect(
        label: "five bytes", bytes: [1, 0, 0, 0, 0], status: .format,
        detail: "file is 5 bytes, too short for the 8-byte header length of a safetensors file"),
      Defect(
        label: "header length beyond the file", bytes: hugeLength, status: .format,
        detail: "header length 18446744073709551615 is beyond the end of the file (\(valid.count - 8) bytes follow it) "
          + "or above the limit of 100000000 bytes"),
      Defect(
        label: "truncated in the header", bytes: Array(valid.prefix(40)), status: .format,
        detail: "header length \(valid.count - 8 - 4 * 37) is beyond the end of the file (32 bytes follow it) "
          + "or above the limit of 100000000 bytes"),
      Defect(
        label: "truncated in the data", bytes: Array(valid.dropLast(4)), status: .format,
        detail: "tensor 'fc.weight': data_offsets [124, 148] go beyond the data buffer of 144 bytes"),
      Defect(
        label: "trailing bytes", bytes: valid + [0, 0, 0, 0], status: .format,
        detail: "bytes 148..<152 of the data buffer belong to no tensor"),
      json(
        "not an object", "[1]",
        detail: "bad safetensors header: expected '{': the header is a JSON object at byte 0 of the header"),
      json("trailing comma", "{\(w),}", detail: "bad safetensors header: expected a string at byte 54 of the header"),
      json(
        "text after the object", "{\(w)} x",
        detail: "bad safetensors header: text after the header object at byte 55 of the header"),
      json(
        "unterminated string", #"{"w"#, detail: "bad safetensors header: unterminated string at byte 3 of the header"),
      json(
        "bad escape", #"{"w\q":1}"#, detail: #"bad safetensors header: invalid escape '\q' at byte 5 of the header"#),
      json(
        "control character", "{\"w\tx\":1}",
        detail: "bad safetensors header: control character 0x09 in a string at byte 3 of the header"),
      json(
        "lone surrogate", #"{"\ud800x":1}"#,
        detail: "bad safetensors header: unpaired high surrogate at byte 8 of the header"),
      json(
        "NUL escape", #"{"a\u0000":1}"#, detail: #"bad safetensors header: \u0000 in a string at byte 9 of the header"#),
      Defect(
        label: "invalid UTF-8", bytes: badUTF8, status: .format,
        detail: "bad safetensors header: invalid UTF-8 in a string at byte 3 of the header", table: [("w", [2])]),
      json(
        "leading zero", #"{"w":{"dtype":"F32","shape":[02],"data_offsets":[0,8]}}"#,
        detail: "bad safetensors header: leading zero in a number at byte 29 of the header"),
      json(
        "fractional dimension", #"{"w":{"dtype":"F32","shape":[2.0],"data_offsets":[0,8]}}"#,
        detail:
          "bad safetensors header: expected a non-negative integer, not a fraction or exponent at byte 30 of the header"
      ),
      json(
        "negative offset", #"{"w":{"dtype":"F32","shape":[2],"data_offsets":[-1,8]}}"#,
        detail: "bad safetensors header: expected a non-negative integer at byte 48 of the header"),
      json(
        "huge integer", #"{"w":{"dtype":"F32","shape":[99999999999999999999],"data_offsets":[0,8]}}"#,
        detail: "bad safetensors header: integer too large at byte 48 of the header"),
      json(
        "shape overflows", #"{"w":{"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,8]}}"#,
        detail: "bad safetensors header: tensor 'w': shape has too many elements at byte 50 of the header"),
      json(
        "unknown key", #"{"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8],"x":1}}"#,
        detail:
          "bad safetensors header: tensor 'w': unknown key 'x' (expected dtype, shape and data_offsets) at byte 53 of the header"
      ),
      json(
        "repeated key", #"{"w":{"dtype":"F32","dtype":"F32","shape":[2],"data_offsets":[0,8]}}"#,
        detail: "bad safetensors header: tensor 'w': key 'dtype' appears twice at byte 20 of the header"),
      json(
        "no data_offsets", #"{"w":{"dtype":"F32","shape":[2]}}"#,
        detail: "bad safetensors header: tensor 'w' has no 'data_offsets' at byte 32 of the header"),
      json(
        "metadata not strings", #"{"__metadata__":{"a":1},\#(w)}"#,
        detail: "bad safetensors header: __metadata__ values must be strings at byte 21 of the header"),
      json(
        "metadata twice", #"{"__metadata__":{},"__metadata__":{},\#(w)}"#,
        detail: "bad safetensors header: __metadata__ appears twice at byte 19 of the header"),
      json(
        "unknown dtype", #"{"w":{"dtype":"F128","shape":[2],"data_offsets":[0,8]}}"#, .dtype,
        detail: "bad safetensors header: tensor 'w' has unknown dtype 'F128' at byte 20 of the header"),
      json(
        "offsets reversed", #"{"w":{"dtype":"F32","shape":[2],"data_offsets":[8,0]}}"#,
        detail: "bad safetensors header: tensor 'w': data_offsets [8, 0] end before they begin at byte 53 of the header"
      ),
      json(
        "offsets of the wrong size", #"{"w":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}"#,
        detail:
          "bad safetensors header: tensor 'w': data_offsets [0, 8] hold 8 bytes, but 3 elements of F32 need 12 at byte 53 of the header"
      ),
      json(
        "offsets past the buffer", #"{"w":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}"#,
        detail: "tensor 'w': data_offsets [4, 12] go beyond the data buffer of 8 bytes"),
      json(
        "overlapping tensors", #"{\#(w),"v":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}"#,
        detail: "tensor 'w': data_offsets [0, 8] overlap tensor 'v' at [0, 4]"),
      json("data but no tensors", "{}", detail: "bytes 0..<8 of the data buffer belong to no tensor"),
      json(
        "a hole", #"{"w":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}"#,
        detail: "bytes 0..<4 of the data buffer belong to no tensor"),
      json(
        "repeated name",
        #"{"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"w":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}"#,
        detail: "tensor 'w' appears twice in the header"),
      Defect(
        label: "missing tensor", bytes: (try? F.valid(dropping: ["fc.bias"])) ?? [], status: .missingTensor,
        detail: "missing tensor 'fc.bias'"),
      Defect(
        label: "extra tensor",
        bytes: (try? F.valid(extra: [NamedTensor("fc2.weight", .f32(Tensor(zeros: [1])))])) ?? [],
        status: .unexpectedTensor,
        detail: "unexpected tensor 'fc2.weight': the network has no parameter of that name"),
      Defect(
        label: "counter of an unknown layer",
        bytes: (try? F.valid(extra: [NamedTensor("bn9.num_batches_tracked", .i64(IntTensor(shape: [], data: [1])))]))
          ?? [],
        status: .unexpectedTensor,
        detail: "unexpected tensor 'bn9.num_batches_tracked': the network has no parameter of that name"),
      Defect(
        label: "wrong dtype",
        bytes: F.file(
          F.converted("F32").entries.map { e in
            e.name == "c1.bias" ? F.Entry(name: e.name, dtype: "I32", shape: e.shape, data: e.data) : e
          }),
        status: .dtype, detail: "tensor 'c1.bias' has dtype I32, expected F32, F16, BF16 or F64"),
      Defect(
        label: "wrong shape",
        bytes: F.file(
          F.converted("F32").entries.map { e in
            e.name == "c1.weight" ? F.Entry(name: e.name, dtype: "F32", shape: [2, 1, 1, 9], data: e.data) : e
          }),
        status: .shapeMismatch, detail: "tensor 'c1.weight' has shape [2,1,1,9], expected [2,1,3,3]"),
      Defect(
        label: "rank above what is stored",
        bytes: F.file([F.Entry(name: "w", dtype: "F32", shape: [1, 1, 1, 1, 1, 1, 1, 1, 1, 2], data: one)]),
        status: .shapeMismatch, detail: "tensor 'w' has shape [1,1,1,1,1,1,1,1,...], expected [2]", table: [("w", [2])]),
    ]
  }()

  @Test(arguments: defects)
  func reportsTheDefect(_ defect: Defect) throws {
    let result = try #require(try Self.load([defect.bytes], table: defect.table).first)
    #expect(result.status == defect.status, "\(result)")
    #expect(result.detail == defect.detail)
    #expect(result.untouched, "params were written although the file was refused")
    if defect.status == .format || defect.detail.hasPrefix("bad safetensors header") {
      // KilnData's reader follows the same format rules: what the C loader calls malformed, it refuses too.
      #expect(throws: DataError.self) { try SafeTensors.decode(defect.bytes, path: defect.label) }
    }
  }
}
