// Kiln's binary weights file (read in C by Templates/runtime/weights_file.c) and the network fingerprint.
import KilnIR

/// The 64-bit FNV-1a hash, which the weights file uses for its fingerprint and checksum.
public enum FNV1a64 {
  /// The hash of nothing.
  public static let offsetBasis: UInt64 = 0xCBF2_9CE4_8422_2325
  static let prime: UInt64 = 0x0000_0100_0000_01B3

  /// Folds `bytes` into `hash` (start from `offsetBasis`).
  public static func hash<Bytes: Sequence<UInt8>>(_ bytes: Bytes, into hash: UInt64 = offsetBasis) -> UInt64 {
    var h = hash
    for byte in bytes {
      h ^= UInt64(byte)
      h &*= prime
    }
    return h
  }
}

/// A weights file cannot be written.
public struct WeightsFileError: Error, CustomStringConvertible, Sendable {
  public var description: String
}

/// Kiln's weights file, for parameters too large to embed in the generated C as literals.
///
/// Layout, all integers little-endian:
/// `"KILNWTS1"`, u32 header size (28 + name length), then the header: u64 fingerprint, u64 float count,
/// u64 FNV-1a-64 checksum of the data bytes, u32 name length and the network's name in UTF-8; then the
/// floats (IEEE binary32, little-endian) in the network's parameter order.
public enum WeightsFile {
  /// The 8 bytes every weights file starts with.
  public static let magic = Array("KILNWTS1".utf8)
  /// The longest network name the C loader accepts, in UTF-8 bytes.
  public static let maximumNameBytes = 4096

  /// The fingerprint of a network's parameters: FNV-1a-64 over `"<name>:<d0>,<d1>,…;"` for each spec in
  /// order (a scalar writes `"<name>:;"`), so a file written for another network is refused.
  public static func fingerprint(of specs: [ParameterSpec]) -> UInt64 {
    var hash = FNV1a64.offsetBasis
    for spec in specs {
      hash = FNV1a64.hash("\(spec.name):\(spec.dims.map(String.init).joined(separator: ","));".utf8, into: hash)
    }
    return hash
  }

  /// The bytes of a weights file holding `params` for the network `network` with parameter `fingerprint`.
  /// - Throws: `WeightsFileError` when the name is longer than `maximumNameBytes`.
  public static func encode(network: String, fingerprint: UInt64, params: [Float]) throws -> [UInt8] {
    let name = Array(network.utf8)
    guard name.count <= maximumNameBytes else {
      throw WeightsFileError(
        description: "network name of \(name.count) bytes is longer than the \(maximumNameBytes) a weights file holds")
    }
    var data: [UInt8] = []
    data.reserveCapacity(params.count * 4)
    for value in params { append(value.bitPattern, width: 4, to: &data) }
    var out = magic
    out.reserveCapacity(12 + 28 + name.count + data.count)
    append(UInt32(28 + name.count), width: 4, to: &out)
    append(fingerprint, width: 8, to: &out)
    append(UInt64(params.count), width: 8, to: &out)
    append(FNV1a64.hash(data), width: 8, to: &out)
    append(UInt32(name.count), width: 4, to: &out)
    out += name
    out += data
    return out
  }

  private static func append<T: FixedWidthInteger>(_ value: T, width: Int, to bytes: inout [UInt8]) {
    for i in 0..<width { bytes.append(UInt8(truncatingIfNeeded: value >> (8 * i))) }
  }
}
