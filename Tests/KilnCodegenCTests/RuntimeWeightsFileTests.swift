// Kiln weights files: the Swift encoder and fingerprint, and kiln_rt_load_weights_file under ASan and UBSan.
import Foundation
import KilnCodegenC
import KilnIR
import KilnTestSupport
import Testing

@Suite struct RuntimeWeightsFileTests {
  static let network = "lenet"
  static let params: [Float] = [1.5, -0, .infinity, -.infinity, .nan, .leastNonzeroMagnitude, 3.25, -7e-3]
  static let fingerprint: UInt64 = 0x0123_4567_89AB_CDEF

  static var good: [UInt8] {
    (try? WeightsFile.encode(network: network, fingerprint: fingerprint, params: params)) ?? []
  }

  /// Loads `files` with the sanitized driver as the network `lenet` of `params.count` floats.
  static func load(_ files: [[UInt8]], count: Int = params.count) throws -> [LoadResult] {
    let dir = try PackagePaths.temporaryDirectory("kiln-runtime-wt")
    defer { try? FileManager.default.removeItem(at: dir) }
    let paths = try files.enumerated().map { i, bytes in
      let url = dir.appendingPathComponent("w\(i).kilnwts")
      try Data(bytes).write(to: url)
      return url.path
    }
    return try RuntimeDriver.sanitized.get().loadWeights(
      network: network, fingerprint: fingerprint, count: count, files: paths)
  }

  @Test func fnvMatchesPublishedVectors() {
    // From the FNV reference test suite (http://www.isthe.com/chongo/src/fnv/test_fnv.c).
    #expect(FNV1a64.hash([UInt8]()) == 0xCBF2_9CE4_8422_2325)
    #expect(FNV1a64.hash(Array("a".utf8)) == 0xAF63_DC4C_8601_EC8C)
    #expect(FNV1a64.hash(Array("foobar".utf8)) == 0x8594_4171_F739_67E8)
    #expect(FNV1a64.hash(Array("bar".utf8), into: FNV1a64.hash(Array("foo".utf8))) == 0x8594_4171_F739_67E8)
  }

  @Test func fingerprintHashesNamesAndShapesInOrder() {
    let image = TensorType(.f32, [1, 5, 5])
    let conv = Node(id: NodeID(1), name: "c1", op: .conv2d(Conv2D(filters: 6, kernel: Pair(3))), inputs: [NodeID(0)])
    let specs = conv.parameters(inputTypes: [image])
    #expect(WeightsFile.fingerprint(of: specs) == FNV1a64.hash(Array("c1.weight:6,1,3,3;c1.bias:6;".utf8)))
    #expect(WeightsFile.fingerprint(of: specs.reversed()) != WeightsFile.fingerprint(of: specs))
    let wider = Node(id: NodeID(1), name: "c1", op: .conv2d(Conv2D(filters: 7, kernel: Pair(3))), inputs: [NodeID(0)])
    #expect(WeightsFile.fingerprint(of: wider.parameters(inputTypes: [image])) != WeightsFile.fingerprint(of: specs))
  }

  @Test func encodesTheDocumentedLayout() throws {
    let bytes = try WeightsFile.encode(network: "ab", fingerprint: 0x1122_3344_5566_7788, params: [1, -2])
    let data: [UInt8] = [0, 0, 0x80, 0x3F, 0, 0, 0, 0xC0]
    var expected = Array("KILNWTS1".utf8) + [30, 0, 0, 0]
    expected += [0x88, 0x77, 0x66, 0x55, 0x44, 0x33, 0x22, 0x11] + [2, 0, 0, 0, 0, 0, 0, 0]
    expected += (0..<8).map { UInt8(truncatingIfNeeded: FNV1a64.hash(data) >> (8 * $0)) }
    expected += [2, 0, 0, 0] + Array("ab".utf8) + data
    #expect(bytes == expected)
    #expect(throws: WeightsFileError.self) {
      try WeightsFile.encode(network: String(repeating: "n", count: 4097), fingerprint: 0, params: [])
    }
  }

  @Test func loadsEveryBitExactly() throws {
    let result = try #require(try Self.load([Self.good]).first)
    #expect(result.status == .ok, "\(result)")
    #expect(result.detail == "")
    #expect(result.bits == Self.params.map(\.bitPattern))
    let empty = try WeightsFile.encode(network: Self.network, fingerprint: Self.fingerprint, params: [])
    #expect(try Self.load([empty], count: 0).first?.status == .ok)
  }

  /// One defective weights file and what the loader must say.
  struct Defect: Sendable, CustomTestStringConvertible {
    var label: String
    var bytes: [UInt8]
    var status: RuntimeStatus
    var detail: String
    /// Whether the loader had begun writing params before it found the defect.
    var writes = false
    var testDescription: String { label }
  }

  static let defects: [Defect] = {
    let good = Self.good
    let size = good.count  // 12 + 33-byte header + 32 bytes of data = 77
    var flipped = good
    flipped[size - 1] ^= 0x01
    var badMagic = good
    badMagic[7] = UInt8(ascii: "2")
    var hugeHeader = good
    hugeHeader.replaceSubrange(8..<12, with: [0xFF, 0xFF, 0, 0])
    var shortName = good
    shortName[12 + 24] = 4
    var nulName = good
    nulName[12 + 28 + 2] = 0
    let other = (try? WeightsFile.encode(network: "resnet", fingerprint: 0xFEED, params: params)) ?? []
    let fewer = (try? WeightsFile.encode(network: network, fingerprint: fingerprint, params: [1, 2, 3])) ?? []
    let checksumHex = String(FNV1a64.hash(good[45...]), radix: 16)
    let flippedHex = String(FNV1a64.hash(flipped[45...]), radix: 16)
    return [
      Defect(
        label: "empty file", bytes: [], status: .format,
        detail: "not a Kiln weights file (it does not start with KILNWTS1)"),
      Defect(
        label: "bad magic", bytes: badMagic, status: .format,
        detail: "not a Kiln weights file (it does not start with KILNWTS1)"),
      Defect(
        label: "cut in the header size", bytes: Array(good.prefix(10)), status: .size,
        detail: "file is 10 bytes, truncated inside its header"),
      Defect(
        label: "cut in the header", bytes: Array(good.prefix(30)), status: .size,
        detail: "file is 30 bytes, truncated inside its header"),
      Defect(
        label: "header size out of range", bytes: hugeHeader, status: .format,
        detail: "header size 65535 is outside 28...4124"),
      Defect(
        label: "name length disagrees", bytes: shortName, status: .format,
        detail: "network name of 4 bytes does not fill the 33-byte header, or holds a NUL"),
      Defect(
        label: "NUL in the name", bytes: nulName, status: .format,
        detail: "network name of 5 bytes does not fill the 33-byte header, or holds a NUL"),
      Defect(
        label: "other network", bytes: other, status: .wrongNetwork,
        detail:
          "weights file is for network 'resnet' (fingerprint 000000000000feed), not 'lenet' (fingerprint 0123456789abcdef)"
      ),
      Defect(
        label: "other float count", bytes: fewer, status: .size,
        detail: "weights file holds 3 floats, network 'lenet' has 8"),
      Defect(
        label: "data cut short", bytes: Array(good.dropLast(3)), status: .size,
        detail: "file is \(size - 3) bytes, expected \(size) (a 45-byte header and 8 floats)"),
      Defect(
        label: "a byte too many", bytes: good + [0], status: .size,
        detail: "file is \(size + 1) bytes, expected \(size) (a 45-byte header and 8 floats)"),
      Defect(
        label: "flipped data bit", bytes: flipped, status: .checksum,
        detail: "data checksum \(String(repeating: "0", count: 16 - flippedHex.count) + flippedHex) does not match "
          + "the header's \(String(repeating: "0", count: 16 - checksumHex.count) + checksumHex): the file is corrupt",
        writes: true),
    ]
  }()

  @Test(arguments: defects)
  func reportsTheDefect(_ defect: Defect) throws {
    let result = try #require(try Self.load([defect.bytes]).first)
    #expect(result.status == defect.status, "\(result)")
    #expect(result.detail == defect.detail)
    #expect(result.untouched != defect.writes, "params written: \(!result.untouched)")
  }

  @Test func reportsAMissingFileAndADirectory() throws {
    let dir = try PackagePaths.temporaryDirectory("kiln-runtime-io")
    defer { try? FileManager.default.removeItem(at: dir) }
    let missing = dir.appendingPathComponent("absent.safetensors").path
    let driver = try RuntimeDriver.sanitized.get()
    for result in try driver.loadWeights(network: "n", fingerprint: 1, count: 1, files: [missing])
      + driver.loadSafeTensors([("w", [1])], files: [missing])
    {
      #expect(result.status == .io)
      #expect(result.detail == "cannot open '\(missing)': No such file or directory")
    }
    for result in try driver.loadWeights(network: "n", fingerprint: 1, count: 1, files: [dir.path])
      + driver.loadSafeTensors([("w", [1])], files: [dir.path])
    {
      #expect(result.status == .io)
      #expect(result.detail == "cannot read '\(dir.path)': Is a directory")
    }
  }
}
