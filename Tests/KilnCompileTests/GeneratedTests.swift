// generated/ holds exactly what `kiln regenerate` writes, and the embedding example builds against it.
import Foundation
import KilnDriver
import KilnHarness
import KilnTestSupport
import Testing

@Suite(.serialized) struct GeneratedTests {
  @Test func generatedFolderIsUpToDate() throws {
    let expected = try Regeneration.expectedFiles(root: PackagePaths.root)
    #expect(!expected.isEmpty)
    var stale: [String] = []
    for f in expected {
      let onDisk = try? String(contentsOf: PackagePaths.root.appendingPathComponent(f.path), encoding: .utf8)
      if onDisk != f.text { stale.append(f.path) }
    }
    #expect(stale.isEmpty, "generated/ is stale (\(stale.joined(separator: ", "))): run `swift run kiln regenerate` and commit the result")
  }

  @Test func embeddingExampleBuildsWithMakeAndRuns() throws {
    let dir = try PackagePaths.temporaryDirectory("kiln-embed")
    let source = PackagePaths.root.appendingPathComponent("examples/embed")
    for file in ["main.c", "Makefile"] {
      try FileManager.default.copyItem(at: source.appendingPathComponent(file), to: dir.appendingPathComponent(file))
    }
    let generated = PackagePaths.root.appendingPathComponent("generated/lenet5").path
    let make = try runProcess("make", arguments: ["-C", dir.path, "GEN=\(generated)", "CC=gcc", "run"])
    #expect(make.status == 0, "\(make.stdout)\n\(make.stderr)")
    #expect(make.stdout.contains("image 0 logits:"))
    #expect(make.stdout.contains("batch 65: the batch size is larger than the context's maximum"))
    #expect(make.stdout.contains("NULL input: a required argument is NULL"))
    #expect(make.stdout.contains("missing weights file: a file could not be opened or read"))
  }
}
