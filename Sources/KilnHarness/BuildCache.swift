// The content-addressed build cache: where it lives, how a build's key is computed, atomic installation.
import Foundation

/// A folder of built products named by the SHA-256 of everything that went into them.
public struct BuildCache: Sendable, Hashable {
  /// The folder holding the products.
  public var directory: URL

  /// A cache in `directory` (created on first use).
  public init(directory: URL) {
    self.directory = directory
  }

  /// `$KILN_CACHE_DIR`, else `$XDG_CACHE_HOME/kiln`, else `~/.cache/kiln`.
  public static func defaultDirectory(
    environment: [String: String] = ProcessInfo.processInfo.environment
  ) -> URL {
    if let dir = environment["KILN_CACHE_DIR"], !dir.isEmpty { return URL(fileURLWithPath: dir) }
    if let xdg = environment["XDG_CACHE_HOME"], !xdg.isEmpty {
      return URL(fileURLWithPath: xdg).appendingPathComponent("kiln")
    }
    let home = environment["HOME"].flatMap { $0.isEmpty ? nil : $0 } ?? NSHomeDirectory()
    return URL(fileURLWithPath: home).appendingPathComponent(".cache").appendingPathComponent("kiln")
  }

  /// The cache key: SHA-256 over the compiler (path and version), every flag, and the bytes of every
  /// source and of every header they include that is found beside them or in `includeDirs`.
  ///
  /// Sources are named by file name only and include folders not at all, so the same code built from
  /// another folder hits the same entry; system headers are covered by the compiler version.
  static func key(
    kind: String, compiler: CCompiler, flags: [String], sources: [URL], includeDirs: [URL]
  ) throws -> String {
    var hasher = SHA256()
    func field(_ name: String, _ value: String) {
      hasher.update("\(name) \(value.utf8.count)\n")
      hasher.update(value)
      hasher.update("\n")
    }
    field("format", "kiln-build-cache-1")
    field("kind", kind)
    field("compiler-path", compiler.path)
    field("compiler-version", compiler.version)
    for flag in flags { field("flag", flag) }
    var visited = Set<String>()
    for source in sources {
      let bytes = try readBytes(source)
      field("source", source.lastPathComponent)
      hasher.update("bytes \(bytes.count)\n")
      hasher.update(bytes)
      for header in try includedHeaders(of: source, bytes: bytes, includeDirs: includeDirs, visited: &visited) {
        field("header", header.name)
        hasher.update("bytes \(header.bytes.count)\n")
        hasher.update(header.bytes)
      }
    }
    return SHA256.hex(hasher.finalize())
  }

  /// Headers `file` includes, transitively, depth first, each once: `"name"` is looked up beside the
  /// including file then in `includeDirs`, `<name>` in `includeDirs` only; headers found nowhere are
  /// system headers and skipped.
  static func includedHeaders(
    of file: URL, bytes: [UInt8], includeDirs: [URL], visited: inout Set<String>
  ) throws -> [(name: String, bytes: [UInt8])] {
    var found: [(name: String, bytes: [UInt8])] = []
    for (name, quoted) in includeDirectives(in: String(decoding: bytes, as: UTF8.self)) {
      let folders = (quoted ? [file.deletingLastPathComponent()] : []) + includeDirs
      guard
        let header = folders.lazy.map({ $0.appendingPathComponent(name).standardizedFileURL })
          .first(where: { FileManager.default.fileExists(atPath: $0.path) })
      else { continue }
      guard visited.insert(header.path).inserted else { continue }
      let headerBytes = try readBytes(header)
      found.append((name, headerBytes))
      found += try includedHeaders(of: header, bytes: headerBytes, includeDirs: includeDirs, visited: &visited)
    }
    return found
  }

  /// The `#include "name"` and `#include <name>` directives of C text, in order (`quoted` for "name").
  static func includeDirectives(in text: String) -> [(name: String, quoted: Bool)] {
    var result: [(name: String, quoted: Bool)] = []
    for rawLine in text.split(separator: "\n") {
      var line = rawLine.drop { $0 == " " || $0 == "\t" }
      guard line.first == "#" else { continue }
      line = line.dropFirst().drop { $0 == " " || $0 == "\t" }
      guard line.hasPrefix("include") else { continue }
      line = line.dropFirst("include".count).drop { $0 == " " || $0 == "\t" }
      guard let open = line.first, open == "\"" || open == "<" else { continue }
      let close: Character = open == "\"" ? "\"" : ">"
      let rest = line.dropFirst()
      guard let end = rest.firstIndex(of: close) else { continue }
      let name = String(rest[..<end])
      if !name.isEmpty { result.append((name, open == "\"")) }
    }
    return result
  }

  static func readBytes(_ url: URL) throws -> [UInt8] {
    do {
      return [UInt8](try Data(contentsOf: url))
    } catch {
      throw HarnessError.fileSystem(path: url.path, reason: "cannot read the file (\(error.localizedDescription))")
    }
  }

  /// Creates the cache folder if needed.
  func prepare() throws {
    do {
      try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    } catch {
      throw HarnessError.fileSystem(
        path: directory.path, reason: "cannot create the build cache folder (\(error.localizedDescription))")
    }
  }

  /// A unique temporary name inside the cache folder, so the final rename stays on one file system.
  func temporaryURL(for final: URL) -> URL {
    directory.appendingPathComponent(".tmp-\(UUID().uuidString)-\(final.lastPathComponent)")
  }

  /// Moves a finished product into place atomically: readers see either nothing or the whole file.
  /// A concurrent build of the same key may win the race; its file is identical, so either is kept.
  func install(_ temporary: URL, as final: URL) throws {
    guard rename(temporary.path, final.path) == 0 else {
      let reason = String(cString: strerror(errno))
      try? FileManager.default.removeItem(at: temporary)
      throw HarnessError.fileSystem(path: final.path, reason: "cannot install the built file (\(reason))")
    }
  }
}
