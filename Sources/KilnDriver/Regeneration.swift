// The committed C of the example networks: what generated/ must hold, and rewriting it.
import Foundation
import KilnData

/// `generated/<name>/<name>.h` and `.c` for every `examples/*.kiln`, with the default compile options and
/// the spec's initialized weights. Large weights are not committed: their module loads `<name>.weights`,
/// which `kiln compile` writes.
public enum Regeneration {
  /// One expected file: its path relative to the package root, and its text.
  public struct File: Sendable {
    public var path: String
    public var text: String
  }

  /// The options generated/ is built with.
  public static var options: CompileOptions { CompileOptions() }

  /// Every file generated/ should hold, from the specs in `examples`.
  public static func expectedFiles(root: URL) throws -> [File] {
    let examples = root.appendingPathComponent("examples")
    let specs = try FileManager.default.contentsOfDirectory(atPath: examples.path).filter { $0.hasSuffix(".kiln") }.sorted()
    var files: [File] = []
    for spec in specs {
      let graph = try NetworkLoader.graph(path: examples.appendingPathComponent(spec).path)
      let module = try Compilation.generate(graph, specName: "examples/\(spec)", options: options, writeWeightsFile: false) {
        try ParameterSource.parameters(for: graph, weightsPath: nil, seed: ParameterSource.defaultSeed(for: graph))
      }
      files.append(File(path: "generated/\(module.name)/\(module.name).h", text: module.header))
      files.append(File(path: "generated/\(module.name)/\(module.name).c", text: module.source))
    }
    return files
  }

  /// Rewrites generated/ (atomically, file by file), removing files no example produces any more.
  /// Returns the paths written.
  @discardableResult
  public static func regenerate(root: URL) throws -> [String] {
    let files = try expectedFiles(root: root)
    let generated = root.appendingPathComponent("generated")
    let keep = Set(files.map(\.path))
    if let items = FileManager.default.enumerator(atPath: generated.path) {
      for case let item as String in items where item.hasSuffix(".c") || item.hasSuffix(".h") {
        if !keep.contains("generated/\(item)") { try FileManager.default.removeItem(at: generated.appendingPathComponent(item)) }
      }
    }
    for f in files {
      let url = root.appendingPathComponent(f.path)
      try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
      try AtomicFile.write(Array(f.text.utf8), to: url.path)
    }
    return files.map(\.path)
  }
}
