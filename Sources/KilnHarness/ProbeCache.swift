// Probe results kept on disk beside the build cache, so a new `kiln` process does not compile and run the
// OpenMP and OpenBLAS probes again (about a second of every cold `kiln compile`).
import Foundation

/// Successful probe results as small JSON files in `<cache>/probes/`, named by a key that changes when the
/// compiler (its path, size or modification time), its extra flags or the OpenBLAS header change; failures are
/// never stored, so a missing package is reported by a fresh probe.
enum ProbeCache {
  /// The stored form of a compiler probe.
  struct CompilerRecord: Codable {
    var name, path, version, family: String
    var extraFlags, openMPLinkFlags: [String]
    var probedThreads: Int
    var probeSeconds: Double
    var runtimeDirectory: String?
  }

  /// The stored form of an OpenBLAS probe.
  struct BLASRecord: Codable {
    var includeDirs, linkFlags: [String]
  }

  /// Bump when the probes change what they establish.
  static let version = 1

  /// The folder of probe records; nil (no disk cache) when `KILN_PROBE_CACHE=0`.
  static func directory(environment: [String: String] = ProcessInfo.processInfo.environment) -> URL? {
    guard environment["KILN_PROBE_CACHE"] != "0" else { return nil }
    return BuildCache.defaultDirectory(environment: environment).appendingPathComponent("probes")
  }

  /// What identifies a file's current version without reading it: path, size and modification time.
  static func stamp(_ path: String) -> String? {
    guard let attributes = try? FileManager.default.attributesOfItem(atPath: path),
      let size = attributes[.size] as? NSNumber, let modified = attributes[.modificationDate] as? Date
    else { return nil }
    return "\(path):\(size):\(modified.timeIntervalSince1970)"
  }

  /// The record file for `parts`, or nil when a part could not be stamped.
  static func file(_ kind: String, _ parts: [String?], in directory: URL) -> URL? {
    guard parts.allSatisfy({ $0 != nil }) else { return nil }
    let text = ([kind, "\(version)"] + parts.map { $0! }).joined(separator: "\u{0}")
    let hex = SHA256.hash(Array(text.utf8)).map { String(format: "%02x", $0) }.joined()
    return directory.appendingPathComponent("\(kind)-\(hex.prefix(24)).json")
  }

  static func read<T: Decodable>(_ type: T.Type, from url: URL) -> T? {
    guard let data = try? Data(contentsOf: url) else { return nil }
    return try? JSONDecoder().decode(type, from: data)
  }

  /// Writes atomically (temp + rename); a cache that cannot be written is only slower, so errors are ignored.
  static func write<T: Encodable>(_ value: T, to url: URL) {
    guard let data = try? JSONEncoder().encode(value) else { return }
    try? FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
    try? data.write(to: url, options: .atomic)
  }

  /// `probe` for the compiler `command` resolves to, through the disk cache in `directory`.
  static func compiler(
    command: String, searchPath: String?, directory: URL?,
    probe: () -> Result<CCompiler, CCompiler.ProbeFailure>
  ) -> Result<CCompiler, CCompiler.ProbeFailure> {
    let words = command.split(whereSeparator: \.isWhitespace).map(String.init)
    guard let directory, let program = words.first, let path = resolveExecutable(program, searchPath: searchPath),
      let url = file("cc", [command, stamp(path)], in: directory)
    else { return probe() }
    if let r = read(CompilerRecord.self, from: url), r.path == path, let family = CCompiler.Family(rawValue: r.family) {
      return .success(
        CCompiler(
          name: r.name, path: r.path, version: r.version, family: family, extraFlags: r.extraFlags,
          openMPLinkFlags: r.openMPLinkFlags, probedThreads: r.probedThreads, probeSeconds: r.probeSeconds,
          runtimeDirectory: r.runtimeDirectory))
    }
    let result = probe()
    if case .success(let c) = result {
      write(
        CompilerRecord(
          name: c.name, path: c.path, version: c.version, family: c.family.rawValue, extraFlags: c.extraFlags,
          openMPLinkFlags: c.openMPLinkFlags, probedThreads: c.probedThreads, probeSeconds: c.probeSeconds,
          runtimeDirectory: c.runtimeDirectory), to: url)
    }
    return result
  }

  /// `probe` of OpenBLAS with `compiler`, through the disk cache in `directory`. The key includes the first
  /// `cblas.h` found, so removing libopenblas-dev makes the next run probe (and report it) again.
  static func openBLAS(
    compiler: CCompiler, directory: URL?, probe: () -> Result<OpenBLAS, CCompiler.ProbeFailure>
  ) -> Result<OpenBLAS, CCompiler.ProbeFailure> {
    let header = OpenBLAS.headerSearchDirs.lazy.compactMap { stamp("\($0)/cblas.h") }.first
    guard let directory,
      let url = file("blas", [stamp(compiler.path), compiler.extraFlags.joined(separator: " "), header], in: directory)
    else { return probe() }
    if let r = read(BLASRecord.self, from: url) { return .success(OpenBLAS(includeDirs: r.includeDirs, linkFlags: r.linkFlags)) }
    let result = probe()
    if case .success(let b) = result { write(BLASRecord(includeDirs: b.includeDirs, linkFlags: b.linkFlags), to: url) }
    return result
  }
}
