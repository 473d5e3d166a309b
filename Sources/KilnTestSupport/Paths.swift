// Where the package's files are, for tests that read examples or run the built tool.
import Foundation

/// Paths inside the package, found from this file's location so tests work from any working directory.
public enum PackagePaths {
  /// The package root (the folder holding Package.swift).
  public static let root: URL = URL(fileURLWithPath: #filePath)
    .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

  /// `examples/`.
  public static var examples: URL { root.appendingPathComponent("examples") }

  /// Every `examples/*.kiln`, sorted by name.
  public static func exampleSpecs() -> [URL] {
    let names = (try? FileManager.default.contentsOfDirectory(atPath: examples.path)) ?? []
    return names.filter { $0.hasSuffix(".kiln") }.sorted().map { examples.appendingPathComponent($0) }
  }

  /// The folder holding the test runner, where `swift build` also puts the `kiln` executable.
  public static var binaries: URL {
    URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent()
  }

  /// A fresh temporary directory for one test.
  public static func temporaryDirectory(_ prefix: String = "kiln-test") throws -> URL {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("\(prefix)-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    return dir
  }
}
