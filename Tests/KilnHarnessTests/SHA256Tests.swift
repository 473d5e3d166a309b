// SHA-256 against the FIPS 180-4 / NIST known-answer vectors, one-shot and fed in pieces.
import Testing

@testable import KilnHarness

@Suite struct SHA256Tests {
  struct Vector: Sendable, CustomTestStringConvertible {
    var message: String
    var repeats: Int = 1
    var digest: String
    var testDescription: String {
      let shown = message.count > 20 ? String(message.prefix(20)) + "…" : "\"\(message)\""
      return repeats == 1 ? shown : "\(shown) x \(repeats)"
    }
    var bytes: [UInt8] { Array(String(repeating: message, count: repeats).utf8) }
  }

  static let vectors = [
    Vector(message: "", digest: "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"),
    Vector(message: "abc", digest: "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"),
    // The 448-bit message: padding must spill into a second block.
    Vector(
      message: "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
      digest: "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"),
    // The 896-bit message.
    Vector(
      message: "abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu",
      digest: "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1"),
    Vector(
      message: "a", repeats: 1_000_000,
      digest: "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0"),
  ]

  @Test(arguments: vectors)
  func oneShot(_ v: Vector) {
    #expect(SHA256.hexDigest(v.bytes) == v.digest)
  }

  /// Feeding the message in uneven pieces (crossing block boundaries in every way) gives the same digest.
  @Test(arguments: vectors.prefix(4))
  func incremental(_ v: Vector) {
    let bytes = v.bytes
    for pieceSize in [1, 3, 63, 64, 65] {
      var hasher = SHA256()
      var start = 0
      while start < bytes.count {
        let end = min(start + pieceSize, bytes.count)
        hasher.update(bytes[start..<end])
        start = end
      }
      #expect(SHA256.hex(hasher.finalize()) == v.digest, "pieces of \(pieceSize)")
    }
  }

  @Test func nonContiguousSequencesHashLikeArrays() {
    let bytes = (0..<200).map { UInt8($0) }
    #expect(SHA256.hash(bytes.lazy.map { $0 }) == SHA256.hash(bytes))
    #expect(SHA256.hash(bytes).count == 32)
  }
}
