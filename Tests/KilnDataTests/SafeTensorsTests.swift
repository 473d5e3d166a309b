// safetensors: round trips, foreign fixtures (PyTorch BatchNorm, F16/BF16), the exact layout written, and every error.

import KilnIR
import Testing

@testable import KilnData

@Suite struct SafeTensorsTests {
  @Test func roundTripKeepsTensorsAndMetadata() throws {
    let dir = try ScratchDirectory()
    defer { dir.remove() }
    let tensors = [
      NamedTensor("fc.weight", .f32(Tensor(shape: [2, 3], data: [1, -2, 3.5, .pi, -0.0, 1e-30]))),
      NamedTensor("scalar", .f32(Tensor(shape: [], data: [42]))),
      NamedTensor("empty", .f32(Tensor(shape: [0, 5], data: []))),
      NamedTensor("steps", .i64(IntTensor(shape: [], data: [Int64.min]))),
      NamedTensor("labels", .i64(IntTensor(shape: [3], data: [0, -1, Int64.max]))),
    ]
    let path = dir.file("model.safetensors")
    try SafeTensors.write(tensors, metadata: ["format": "pt", "note": "quote \" and \\ and\nnewline"], to: path)
    let read = try SafeTensors.read(from: path)
    #expect(read.metadata == ["format": "pt", "note": "quote \" and \\ and\nnewline"])
    #expect(Set(read.tensors) == Set(tensors))
    // Data order (and so header order): 8-byte elements first, then by name.
    #expect(read.tensors.map(\.name) == ["labels", "steps", "empty", "fc.weight", "scalar"])
    #expect(try SafeTensors.read(from: path).tensors.first { $0.name == "fc.weight" }?.tensor.shape == [2, 3])
  }

  @Test func writesTheReferenceLayout() throws {
    let bytes = try SafeTensors.encode(
      [
        NamedTensor("b", .f32(Tensor(shape: [1], data: [2]))),
        NamedTensor("a", .f32(Tensor(shape: [2], data: [0, 1]))),
      ], path: "t")
    let header =
      #"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}}"#
    #expect(header.utf8.count == 108)
    let padded = header + "    "  // to 112, the next multiple of 8
    #expect(bytes == safetensorsBytes(header: padded, data: LE.f32([0, 1, 2])))
    let withMetadata = try SafeTensors.encode(
      [NamedTensor("x", .i64(IntTensor(shape: [], data: [7])))], metadata: ["k": "v"], path: "t")
    let expected = #"{"__metadata__":{"k":"v"},"x":{"dtype":"I64","shape":[],"data_offsets":[0,8]}}"#
    #expect(expected.utf8.count == 78)
    let headerLength = Int(withMetadata[0])
    #expect(headerLength == 80)
    #expect(String(decoding: withMetadata[8..<(8 + headerLength)], as: UTF8.self) == expected + "  ")
    #expect(Array(withMetadata[(8 + headerLength)...]) == LE.i64([7]))
  }

  /// A BatchNorm2d(2) state_dict as `safetensors.torch.save_file` writes it, header in its own order.
  @Test func readsPyTorchBatchNormStateDict() throws {
    let header =
      #"{"__metadata__":{"format":"pt"},"bn.num_batches_tracked":{"dtype":"I64","shape":[],"data_offsets":[0,8]},"#
      + #""bn.bias":{"dtype":"F32","shape":[2],"data_offsets":[8,16]},"bn.running_mean":{"dtype":"F32","shape":[2],"data_offsets":[16,24]},"#
      + #""bn.running_var":{"dtype":"F32","shape":[2],"data_offsets":[24,32]},"bn.weight":{"dtype":"F32","shape":[2],"data_offsets":[32,40]}}"#
    let data = LE.i64([300]) + LE.f32([0.5, -0.5, 0.1, 0.2, 1.5, 2.5, 1, 2])
    let read = try SafeTensors.decode(safetensorsBytes(header: header, data: data), path: "bn.safetensors")
    #expect(read.metadata == ["format": "pt"])
    #expect(
      read.tensors.map(\.name) == [
        "bn.num_batches_tracked", "bn.bias", "bn.running_mean", "bn.running_var", "bn.weight",
      ])
    #expect(read.tensors[0].tensor == .i64(IntTensor(shape: [], data: [300])))
    #expect(read.tensors[3].tensor == .f32(Tensor(shape: [2], data: [1.5, 2.5])))
  }

  @Test func convertsHalfPrecisionAndIntegers() throws {
    // F16 bits from numpy: 1.0, -2.0, 65504 (max), 2^-24 (smallest subnormal), 0.333251953125; BF16 of 1, -3.140625, 0.5.
    let f16: [UInt16] = [15360, 49152, 31743, 1, 13653]
    let bf16: [UInt16] = [0x3F80, 0xC049, 0x3F00]
    let header =
      #"{"h":{"dtype":"F16","shape":[5],"data_offsets":[0,10]},"b":{"dtype":"BF16","shape":[3],"data_offsets":[10,16]},"#
      + #""d":{"dtype":"F64","shape":[1],"data_offsets":[16,24]},"i":{"dtype":"I16","shape":[2],"data_offsets":[24,28]},"#
      + #""u":{"dtype":"U8","shape":[2],"data_offsets":[28,30]},"s":{"dtype":"I8","shape":[2],"data_offsets":[30,32]},"#
      + #""q":{"dtype":"BOOL","shape":[2],"data_offsets":[32,34]},"w":{"dtype":"I32","shape":[1],"data_offsets":[34,38]}}"#
    var data = f16.flatMap(LE.u16) + bf16.flatMap(LE.u16) + LE.u64((-0.25 as Double).bitPattern)
    data +=
      LE.u16(UInt16(bitPattern: -300)) + LE.u16(7) + [255, 0] + [0x80, 0x7F] + [1, 0] + LE.u32(UInt32(bitPattern: -5))
    let t = try SafeTensors.decode(safetensorsBytes(header: header, data: data), path: "mixed")
    let byName = Dictionary(uniqueKeysWithValues: t.tensors.map { ($0.name, $0.tensor) })
    #expect(byName["h"] == .f32(Tensor(shape: [5], data: [1, -2, 65504, 0x1p-24, 0.333251953125])))
    #expect(byName["b"] == .f32(Tensor(shape: [3], data: [1, -3.140625, 0.5])))
    #expect(byName["d"] == .f32(Tensor(shape: [1], data: [-0.25])))
    #expect(byName["i"] == .i64(IntTensor(shape: [2], data: [-300, 7])))
    #expect(byName["u"] == .i64(IntTensor(shape: [2], data: [255, 0])))
    #expect(byName["s"] == .i64(IntTensor(shape: [2], data: [-128, 127])))
    #expect(byName["q"] == .i64(IntTensor(shape: [2], data: [1, 0])))
    #expect(byName["w"] == .i64(IntTensor(shape: [1], data: [-5])))
  }

  @Test func halfConversionHandlesSpecialValues() {
    #expect(floatFromHalf(0x7C00) == .infinity)
    #expect(floatFromHalf(0xFC00) == -.infinity)
    #expect(floatFromHalf(0x7E00).isNaN)
    #expect(floatFromHalf(0x8000).sign == .minus && floatFromHalf(0x8000) == 0)
    #expect(floatFromHalf(0x03FF) == 1023 * 0x1p-24)  // largest subnormal
    #expect(floatFromHalf(0x0400) == 0x1p-14)  // smallest normal
  }

  struct Corruption: Sendable, CustomTestStringConvertible {
    let id: String
    let bytes: [UInt8]
    let fragments: [String]
    var testDescription: String { id }
  }

  static let corruptions: [Corruption] = {
    let f = LE.f32([1, 2])
    func file(_ header: String, _ data: [UInt8] = LE.f32([1, 2])) -> [UInt8] {
      safetensorsBytes(header: header, data: data)
    }
    let ok = #""w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}"#
    return [
      Corruption(id: "short file", bytes: [1, 2, 3], fragments: ["bad.st", "3 bytes", "8-byte header length"]),
      Corruption(
        id: "header beyond file", bytes: LE.u64(1000) + Array("{}".utf8),
        fragments: ["header length 1000 goes beyond the end of the file", "2 bytes"]),
      Corruption(
        id: "invalid JSON", bytes: file("{\"w\": [1,,2]}", []),
        fragments: ["not valid JSON", "unexpected character ',' at byte 9"]),
      Corruption(
        id: "not an object", bytes: file("[1]", []), fragments: ["header is an array, expected a JSON object"]),
      Corruption(
        id: "missing key", bytes: file(#"{"w":{"dtype":"F32","shape":[2]}}"#),
        fragments: ["tensor 'w'", "missing key 'data_offsets'"]),
      Corruption(
        id: "unknown dtype", bytes: file(#"{"w":{"dtype":"F8_E4M3","shape":[8],"data_offsets":[0,8]}}"#),
        fragments: ["tensor 'w'", "unsupported dtype 'F8_E4M3'", "F32, F64"]),
      Corruption(
        id: "bad shape", bytes: file(#"{"w":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}}"#),
        fragments: ["tensor 'w'", "shape must be an array of non-negative integers"]),
      Corruption(
        id: "offsets beyond buffer", bytes: file(#"{"w":{"dtype":"F32","shape":[3],"data_offsets":[0,12]}}"#),
        fragments: ["tensor 'w'", "data_offsets [0, 12] go beyond the data buffer of 8 bytes"]),
      Corruption(
        id: "size mismatch", bytes: file(#"{"w":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}"#),
        fragments: ["tensor 'w'", "hold 8 bytes, but shape [3] of F32 needs 12"]),
      Corruption(
        id: "reversed offsets", bytes: file(#"{"w":{"dtype":"F32","shape":[0],"data_offsets":[8,0]}}"#),
        fragments: ["tensor 'w'", "end before they begin"]),
      Corruption(
        id: "overlap", bytes: file("{\(ok),\"v\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}"),
        fragments: ["tensor 'v'", "overlap tensor 'w' at [0, 8]"]),
      Corruption(
        id: "hole", bytes: file(#"{"w":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}"#),
        fragments: ["bytes 0..<4 of the data buffer belong to no tensor"]),
      Corruption(
        id: "trailing bytes", bytes: file("{\(ok)}", f + [0, 0, 0, 0]),
        fragments: ["bytes 8..<12 of the data buffer belong to no tensor"]),
      Corruption(id: "duplicate name", bytes: file("{\(ok),\(ok)}"), fragments: ["tensor 'w'", "duplicate name"]),
      Corruption(
        id: "bad bool", bytes: file(#"{"w":{"dtype":"BOOL","shape":[2],"data_offsets":[0,2]}}"#, [1, 2]),
        fragments: ["tensor 'w'", "BOOL element 1 is 2, expected 0 or 1"]),
      Corruption(
        id: "bad metadata", bytes: file(#"{"__metadata__":{"epoch":3}}"#, []),
        fragments: ["__metadata__ value of 'epoch' is a number, expected a string"]),
      Corruption(
        id: "unknown key", bytes: file(#"{"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8],"extra":1}}"#),
        fragments: ["tensor 'w'", "unknown key 'extra'"]),
      Corruption(
        id: "fractional offset", bytes: file(#"{"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8.0]}}"#),
        fragments: ["data_offsets must be two non-negative integers"]),
    ]
  }()

  @Test(arguments: corruptions) func rejectsCorruptFile(_ c: Corruption) {
    expectError(containing: c.fragments) { _ = try SafeTensors.decode(c.bytes, path: "bad.st") }
  }

  @Test func rejectsBadNamesWhenWriting() {
    let t = AnyTensor.f32(Tensor(shape: [1], data: [0]))
    expectError(containing: ["tensor 'a'", "duplicate tensor name"]) {
      _ = try SafeTensors.encode([NamedTensor("a", t), NamedTensor("a", t)], path: "out")
    }
    expectError(containing: ["'__metadata__' is reserved"]) {
      _ = try SafeTensors.encode([NamedTensor("__metadata__", t)], path: "out")
    }
  }

  @Test func missingFileNamesThePath() {
    expectError(containing: ["/nonexistent/w.safetensors", "cannot open", "No such file"]) {
      _ = try SafeTensors.read(from: "/nonexistent/w.safetensors")
    }
  }
}
