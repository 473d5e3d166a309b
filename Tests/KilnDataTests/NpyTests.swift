// .npy: byte-exact agreement with numpy.save, round trips, every supported dtype and version, and the errors.

import KilnIR
import Testing

@testable import KilnData

@Suite struct NpyTests {
  /// A .npy file: magic, version, little-endian header length, header text, data.
  static func npy(_ header: String, _ data: [UInt8], version: UInt8 = 1) -> [UInt8] {
    let h = Array(header.utf8)
    let length = version == 1 ? LE.u16(UInt16(h.count)) : LE.u32(UInt32(h.count))
    return [0x93] + Array("NUMPY".utf8) + [version, 0] + length + h + data
  }

  struct NumpyCase: Sendable, CustomTestStringConvertible {
    let tensor: AnyTensor
    /// The dictionary numpy 2.x writes, and the number of spaces it pads it with before the newline.
    let dictionary: String
    let spaces: Int
    var testDescription: String { dictionary }
  }

  // Spaces as counted in numpy 2.x's output of np.save for these arrays.
  static let numpyCases = [
    NumpyCase(
      tensor: .f32(Tensor(shape: [2, 3], data: [1, 2, 3, 4, 5, -6.5])),
      dictionary: "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }", spaces: 58),
    NumpyCase(
      tensor: .f32(Tensor(shape: [], data: [1.5])),
      dictionary: "{'descr': '<f4', 'fortran_order': False, 'shape': (), }", spaces: 62),
    NumpyCase(
      tensor: .i64(IntTensor(shape: [3], data: [0, 1, 2])),
      dictionary: "{'descr': '<i8', 'fortran_order': False, 'shape': (3,), }", spaces: 60),
    NumpyCase(
      tensor: .f32(Tensor(shape: [0, 4], data: [])),
      dictionary: "{'descr': '<f4', 'fortran_order': False, 'shape': (0, 4), }", spaces: 58),
  ]

  @Test(arguments: numpyCases) func writesExactlyWhatNumpyWrites(_ c: NumpyCase) throws {
    let data: [UInt8]
    switch c.tensor {
    case .f32(let t): data = LE.f32(t.data)
    case .i64(let t): data = LE.i64(t.data)
    }
    let expected = Self.npy(c.dictionary + String(repeating: " ", count: c.spaces) + "\n", data)
    let bytes = Npy.encode(c.tensor)
    #expect(bytes == expected)
    #expect((bytes.count - data.count) % 64 == 0)
    #expect(try Npy.decode(bytes, path: "x.npy") == c.tensor)
  }

  @Test func roundTripsThroughFiles() throws {
    let dir = try ScratchDirectory()
    defer { dir.remove() }
    let tensors: [AnyTensor] = [
      .f32(Tensor(shape: [2, 1, 3], data: [0, -1, .infinity, 1e-38, 3, .greatestFiniteMagnitude])),
      .f32(Tensor(shape: [], data: [-7])),
      .f32(Tensor(shape: [3, 0, 2], data: [])),
      .i64(IntTensor(shape: [2, 2], data: [Int64.min, -1, 0, Int64.max])),
      .i64(IntTensor(shape: [], data: [5])),
      .f32(Tensor(shape: Array(repeating: 1, count: 40), data: [2])),  // a long header, still version 1.0
    ]
    for (i, t) in tensors.enumerated() {
      let path = dir.file("t\(i).npy")
      try Npy.write(t, to: path)
      #expect(try Npy.read(from: path) == t)
    }
  }

  @Test func readsOtherDtypesVersionsAndByteOrders() throws {
    func header(_ descr: String, _ shape: String) -> String {
      "{'descr': '\(descr)', 'fortran_order': False, 'shape': \(shape), }\n"
    }
    let f8 = Self.npy(header("<f8", "(2,)"), LE.u64((0.5 as Double).bitPattern) + LE.u64((-2 as Double).bitPattern))
    #expect(try Npy.decode(f8, path: "a") == .f32(Tensor(shape: [2], data: [0.5, -2])))
    let i4 = Self.npy(header("<i4", "(1, 2)"), LE.u32(UInt32(bitPattern: -3)) + LE.u32(9), version: 2)
    #expect(try Npy.decode(i4, path: "a") == .i64(IntTensor(shape: [1, 2], data: [-3, 9])))
    let u1 = Self.npy(header("|u1", "(3,)"), [0, 128, 255], version: 3)
    #expect(try Npy.decode(u1, path: "a") == .i64(IntTensor(shape: [3], data: [0, 128, 255])))
    let i1 = Self.npy(header("|i1", "(2,)"), [0xFF, 0x80])
    #expect(try Npy.decode(i1, path: "a") == .i64(IntTensor(shape: [2], data: [-1, -128])))
    let b1 = Self.npy(header("|b1", "(2,)"), [1, 0])
    #expect(try Npy.decode(b1, path: "a") == .i64(IntTensor(shape: [2], data: [1, 0])))
    // Big-endian float32 1.0 and int64 258 are converted.
    let bigF = Self.npy(header(">f4", "(1,)"), [0x3F, 0x80, 0, 0])
    #expect(try Npy.decode(bigF, path: "a") == .f32(Tensor(shape: [1], data: [1])))
    let bigI = Self.npy(header(">i8", "(1,)"), [0, 0, 0, 0, 0, 0, 1, 2])
    #expect(try Npy.decode(bigI, path: "a") == .i64(IntTensor(shape: [1], data: [258])))
    // Python 2 long integers and double quotes.
    let legacy = Self.npy("{\"descr\": \"<f4\", \"fortran_order\": False, \"shape\": (1L, 1L)}\n", LE.f32([4]))
    #expect(try Npy.decode(legacy, path: "a") == .f32(Tensor(shape: [1, 1], data: [4])))
  }

  struct Corruption: Sendable, CustomTestStringConvertible {
    let id: String
    let bytes: [UInt8]
    let fragments: [String]
    var testDescription: String { id }
  }

  static let corruptions: [Corruption] = {
    func file(_ dict: String, _ data: [UInt8] = LE.f32([1, 2]), version: UInt8 = 1) -> [UInt8] {
      npy(dict + "\n", data, version: version)
    }
    return [
      Corruption(id: "no magic", bytes: Array("PK\u{3}\u{4}zipfile".utf8), fragments: ["bad.npy", "not a .npy file"]),
      Corruption(
        id: "version", bytes: file("{}", version: 4), fragments: ["unsupported .npy format version 4.0"]),
      Corruption(
        id: "header too long", bytes: [0x93] + Array("NUMPY".utf8) + [1, 0] + LE.u16(500) + [0x7B],
        fragments: ["header length 500 goes beyond the end of the file"]),
      Corruption(
        id: "fortran", bytes: file("{'descr': '<f4', 'fortran_order': True, 'shape': (2,), }"),
        fragments: ["fortran_order is True", "C-order"]),
      Corruption(
        id: "dtype", bytes: file("{'descr': '<c8', 'fortran_order': False, 'shape': (1,), }"),
        fragments: ["unsupported dtype '<c8'"]),
      Corruption(
        id: "structured", bytes: file("{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (2,), }"),
        fragments: ["structured dtypes cannot be read"]),
      Corruption(
        id: "missing key", bytes: file("{'descr': '<f4', 'shape': (2,), }"),
        fragments: ["header has no 'fortran_order'"]),
      Corruption(
        id: "extra key", bytes: file("{'descr': '<f4', 'fortran_order': False, 'shape': (2,), 'x': 1}"),
        fragments: ["unexpected header key 'x'"]),
      Corruption(
        id: "short data", bytes: file("{'descr': '<f4', 'fortran_order': False, 'shape': (3,), }"),
        fragments: ["data is 8 bytes, but shape [3] of '<f4' needs 12"]),
      Corruption(
        id: "long data", bytes: file("{'descr': '<f4', 'fortran_order': False, 'shape': (1,), }"),
        fragments: ["data is 8 bytes, but shape [1] of '<f4' needs 4"]),
      Corruption(
        id: "negative dim", bytes: file("{'descr': '<f4', 'fortran_order': False, 'shape': (-2,), }"),
        fragments: ["shape is (-2,), expected a tuple of non-negative integers"]),
      Corruption(
        id: "syntax", bytes: file("{'descr': '<f4' 'fortran_order': False}"),
        fragments: ["not a Python dictionary literal", "expected ',' or '}'"]),
      Corruption(
        id: "bool value", bytes: file("{'descr': '|b1', 'fortran_order': False, 'shape': (2,), }", [1, 3]),
        fragments: ["boolean element 1 is 3, expected 0 or 1"]),
      Corruption(
        id: "no byte order", bytes: file("{'descr': '|f4', 'fortran_order': False, 'shape': (2,), }"),
        fragments: ["dtype '|f4' has no byte order"]),
    ]
  }()

  @Test(arguments: corruptions) func rejectsCorruptFile(_ c: Corruption) {
    expectError(containing: c.fragments) { _ = try Npy.decode(c.bytes, path: "bad.npy") }
  }
}
