// Atomic writes: the content arrives whole, replaces what was there, keeps permissions, leaves no temporary file.

import Foundation
import Testing

@testable import KilnData

@Suite struct AtomicFileTests {
  @Test func replacesExistingContentAndLeavesNoTemporaryFile() throws {
    let dir = try ScratchDirectory()
    defer { dir.remove() }
    let path = dir.file("weights.bin")
    try AtomicFile.write([UInt8](repeating: 7, count: 100_000), to: path)
    #expect(try FileBytes.read(path) == [UInt8](repeating: 7, count: 100_000))
    try AtomicFile.write(Data([1, 2, 3]), to: path)
    #expect(try FileBytes.read(path) == [1, 2, 3])
    try AtomicFile.write([], to: path)
    #expect(try FileBytes.read(path) == [])
    #expect(try dir.listing() == ["weights.bin"])
  }

  @Test func keepsPermissionsOfTheFileItReplaces() throws {
    let dir = try ScratchDirectory()
    defer { dir.remove() }
    let path = dir.file("model.npy")
    try AtomicFile.write([0], to: path)
    #expect(chmod(path, 0o600) == 0)
    try AtomicFile.write([1], to: path)
    let attributes = try FileManager.default.attributesOfItem(atPath: path)
    #expect((attributes[.posixPermissions] as? NSNumber)?.intValue == 0o600)
  }

  @Test func failureLeavesTargetUntouchedAndNamesIt() throws {
    let dir = try ScratchDirectory()
    defer { dir.remove() }
    // The target is a non-empty directory: rename fails, and the temporary file must be cleaned up.
    let target = dir.file("taken")
    try FileManager.default.createDirectory(atPath: target, withIntermediateDirectories: false)
    try writeFixture([1], to: target + "/inside")
    expectError(containing: [target, "cannot rename"]) { try AtomicFile.write([9, 9], to: target) }
    #expect(try dir.listing() == ["taken"])
    expectError(containing: [dir.file("missing/x.bin"), "cannot create a temporary file"]) {
      try AtomicFile.write([1], to: dir.file("missing/x.bin"))
    }
  }
}
