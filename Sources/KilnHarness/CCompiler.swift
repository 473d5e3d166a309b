// Finding a C compiler that builds and runs OpenMP code, probed once per process.
import Foundation

/// A C compiler that was shown, by compiling and running a probe, to build working OpenMP programs.
public struct CCompiler: Sendable, Hashable, CustomStringConvertible {
  /// The compiler family decides how OpenMP is linked.
  public enum Family: String, Sendable, Hashable {
    case gcc, clang, other
  }

  /// The name it was requested by: `gcc`, `clang-14`, or a path.
  public var name: String
  /// The absolute path of the executable.
  public var path: String
  /// The first line of `--version`.
  public var version: String
  /// gcc or clang, from the version line.
  public var family: Family
  /// Flags that came with the command (`CC="gcc -m64"`), passed to every compilation.
  public var extraFlags: [String]
  /// Link flags OpenMP needs beyond `-fopenmp`, e.g. Debian's libomp directory and its rpath for a clang
  /// that ships without a libomp of its own.
  public var openMPLinkFlags: [String]
  /// The thread count the probe's `parallel num_threads(2)` region reported (2 when accepted).
  public var probedThreads: Int
  /// Wall time of the probe (compile + run), in seconds.
  public var probeSeconds: Double
  /// Clang's `-print-runtime-dir` when that folder exists: where its shared sanitizer runtimes live.
  public var runtimeDirectory: String?

  /// Flags that enable OpenMP, for compiling and linking in one step.
  public var openMPFlags: [String] { ["-fopenmp"] + openMPLinkFlags }

  public var description: String { "\(name) (\(version)) at \(path)" }

  /// Candidates tried, in order, when neither `--cc` nor `CC` names a compiler.
  /// NOTE: gcc first because it measured faster here (bench/compilers, 2026-11-27, AMD EPYC Zen 4, 2 cores):
  /// over the 11 example networks the generated C built by Debian's clang 14 took 1.21× gcc 12's time at batch 1
  /// and 1.20× at batch 64 (geometric means), and clang compiled 2.1× slower. clang won on a few networks
  /// (AlexNet, Inception block, the 784-512-256-10 MLP at batch 1), gcc on most.
  public static let defaultCandidates: [String] = ["gcc", "clang-14", "clang"]

  /// Where to look for `llvm-N/lib/libomp.so`, for a clang without a libomp of its own (Debian's
  /// libomp-dev installs /usr/lib/llvm-N/lib/libomp.so).
  static let libompSearchRoot = "/usr/lib"

  /// Picks the compiler: `override` (from `--cc`) wins, then `CC` from `environment`, then the first of
  /// `defaultCandidates` whose probe succeeds. Each distinct compiler is probed once per process, and a success is
  /// remembered on disk (`ProbeCache`) until the compiler binary changes.
  ///
  /// - Throws: `HarnessError.unusableCompiler` naming an override that is missing or cannot build OpenMP
  ///   code; `HarnessError.noOpenMPCompiler` listing every default candidate and why it failed.
  public static func detect(
    override: String? = nil, environment: [String: String] = ProcessInfo.processInfo.environment
  ) throws -> CCompiler {
    let searchPath = environment["PATH"]
    for (value, source) in [(override, "--cc"), (environment["CC"], "the CC environment variable")] {
      guard let value, !value.trimmingCharacters(in: .whitespaces).isEmpty else { continue }
      switch probeCached(command: value, searchPath: searchPath) {
      case .success(let compiler): return compiler
      case .failure(let failure):
        throw HarnessError.unusableCompiler(name: value, source: source, reason: failure.reason)
      }
    }
    var tried: [String] = []
    for candidate in defaultCandidates {
      switch probeCached(command: candidate, searchPath: searchPath) {
      case .success(let compiler): return compiler
      case .failure(let failure): tried.append("\(candidate): \(failure.reason)")
      }
    }
    throw HarnessError.noOpenMPCompiler(tried: tried)
  }

  /// Probes one command (a name on `searchPath` or a path, optionally followed by flags), bypassing the
  /// per-process cache: resolves it, reads its version and builds and runs the OpenMP probe.
  public static func probe(command: String, searchPath: String?) -> Result<CCompiler, ProbeFailure> {
    let words = command.split(whereSeparator: \.isWhitespace).map(String.init)
    guard let program = words.first else { return .failure(ProbeFailure(reason: "empty compiler command")) }
    guard let path = resolveExecutable(program, searchPath: searchPath) else {
      return .failure(ProbeFailure(reason: "not found"))
    }
    let extraFlags = Array(words.dropFirst())
    let version: String
    do {
      let result = try runProcess(path, arguments: ["--version"])
      let firstLine = result.stdout.split(separator: "\n").first.map(String.init) ?? ""
      guard result.succeeded, !firstLine.isEmpty else {
        return .failure(ProbeFailure(reason: "'\(path) --version' failed (status \(result.status))"))
      }
      version = firstLine.trimmingCharacters(in: .whitespaces)
    } catch {
      return .failure(ProbeFailure(reason: "\(error)"))
    }
    let family = familyOf(versionLine: version)
    var variants: [[String]] = [[]]
    if family != .gcc {
      variants += libompDirectories(preferringMajor: clangMajorVersion(version)).map {
        ["-L\($0)", "-Wl,-rpath,\($0)"]
      }
    }
    var runtimeDirectory: String? = nil
    if family == .clang, let printed = try? runProcess(path, arguments: ["-print-runtime-dir"]), printed.succeeded {
      let dir = printed.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
      if FileManager.default.fileExists(atPath: dir) { runtimeDirectory = dir }
    }
    var reasons: [String] = []
    let started = Date()
    for linkFlags in variants {
      switch runOpenMPProbe(path: path, flags: extraFlags + ["-fopenmp"] + linkFlags) {
      case .success(let threads):
        return .success(
          CCompiler(
            name: command, path: path, version: version, family: family, extraFlags: extraFlags,
            openMPLinkFlags: linkFlags, probedThreads: threads, probeSeconds: Date().timeIntervalSince(started),
            runtimeDirectory: runtimeDirectory))
      case .failure(let failure):
        let with = linkFlags.isEmpty ? "" : " with \(linkFlags[0])"
        reasons.append("\(failure.reason)\(with)")
      }
    }
    return .failure(ProbeFailure(reason: reasons.joined(separator: ", ")))
  }

  /// Why a compiler was rejected, in a few words ("not found", "libomp missing: …").
  public struct ProbeFailure: Error, Sendable, Hashable {
    public var reason: String
  }

  // MARK: - Probing

  /// The OpenMP probe. It declares the one runtime function it needs instead of including <omp.h>, so it
  /// needs no -I (clang 21 breaks when pointed at clang 14's header folder), as generated code will.
  static let probeSource = """
    #include <stdio.h>
    #ifdef _OPENMP
    int omp_get_num_threads(void);
    #endif
    int main(void) {
      int threads = 1;
    #pragma omp parallel num_threads(2)
      {
    #ifdef _OPENMP
    #pragma omp single
        threads = omp_get_num_threads();
    #endif
      }
      printf("%d\\n", threads);
      return 0;
    }

    """

  /// Compiles and runs the probe; succeeds with the reported thread count when it is 2.
  static func runOpenMPProbe(path: String, flags: [String]) -> Result<Int, ProbeFailure> {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("kiln-probe-\(UUID().uuidString)")
    defer { try? FileManager.default.removeItem(at: dir) }
    do {
      try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
      let source = dir.appendingPathComponent("probe.c")
      let binary = dir.appendingPathComponent("probe")
      try probeSource.write(to: source, atomically: true, encoding: .utf8)
      let compile = try runProcess(path, arguments: flags + [source.path, "-o", binary.path])
      guard compile.succeeded else {
        return .failure(ProbeFailure(reason: summarizeOpenMPFailure(compile.stderr)))
      }
      var environment = ProcessInfo.processInfo.environment
      environment["OMP_THREAD_LIMIT"] = nil
      environment["OMP_DYNAMIC"] = "false"
      let run = try runProcess(binary.path, environment: environment)
      guard run.succeeded else {
        let detail = run.stderr.split(separator: "\n").first.map(String.init) ?? "status \(run.status)"
        return .failure(ProbeFailure(reason: "the OpenMP probe built but did not run (\(detail))"))
      }
      let threads = Int(run.stdout.trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0
      guard threads == 2 else {
        return .failure(ProbeFailure(reason: "the OpenMP probe ran \(threads) thread(s) where 2 were asked for"))
      }
      return .success(threads)
    } catch {
      return .failure(ProbeFailure(reason: "\(error)"))
    }
  }

  /// One line saying why the probe did not build: libomp missing, -fopenmp unsupported, or the first error.
  static func summarizeOpenMPFailure(_ stderr: String) -> String {
    let lines = stderr.split(separator: "\n").map(String.init)
    if stderr.contains("__kmpc_") || stderr.contains("-lomp") || stderr.contains("libomp") {
      return "libomp missing (OpenMP code does not link)"
    }
    if stderr.contains("libgomp") || stderr.contains("GOMP_") {
      return "libgomp missing (OpenMP code does not link)"
    }
    if let first = lines.first(where: { $0.contains("error") }) ?? lines.first {
      return "the OpenMP probe does not build: \(first.trimmingCharacters(in: .whitespaces))"
    }
    return "the OpenMP probe does not build"
  }

  static func familyOf(versionLine: String) -> Family {
    let lower = versionLine.lowercased()
    if lower.contains("clang") { return .clang }
    if lower.contains("gcc") || lower.contains("free software foundation") { return .gcc }
    return .other
  }

  /// 14 from "Debian clang version 14.0.6", nil when there is no "clang version N".
  static func clangMajorVersion(_ versionLine: String) -> Int? {
    guard let range = versionLine.range(of: "clang version ") else { return nil }
    return Int(versionLine[range.upperBound...].prefix { $0.isNumber })
  }

  /// `/usr/lib/llvm-N/lib` folders holding libomp.so: the one matching `major` first, then newest first.
  static func libompDirectories(preferringMajor major: Int?) -> [String] {
    let names = (try? FileManager.default.contentsOfDirectory(atPath: libompSearchRoot)) ?? []
    let found: [(Int, String)] = names.compactMap { name in
      guard name.hasPrefix("llvm-"), let n = Int(name.dropFirst(5)) else { return nil }
      let dir = "\(libompSearchRoot)/\(name)/lib"
      return FileManager.default.fileExists(atPath: "\(dir)/libomp.so") ? (n, dir) : nil
    }
    return found.sorted { a, b in
      if (a.0 == major) != (b.0 == major) { return a.0 == major }
      return a.0 > b.0
    }.map(\.1)
  }

  // MARK: - The per-process cache

  /// Probes each distinct (command, PATH) once per process; concurrent callers wait for one probe.
  static func probeCached(command: String, searchPath: String?) -> Result<CCompiler, ProbeFailure> {
    probeCache.value(for: "\(command)\u{0}\(searchPath ?? "")") {
      ProbeCache.compiler(command: command, searchPath: searchPath, directory: ProbeCache.directory()) {
        probe(command: command, searchPath: searchPath)
      }
    }
  }

  static let probeCache = OnceCache<String, Result<CCompiler, ProbeFailure>>()
}

/// A thread-safe memo table that computes each key's value once, holding a lock while it does.
final class OnceCache<Key: Hashable & Sendable, Value: Sendable>: @unchecked Sendable {
  // NOTE: one lock for all keys keeps it simple; probes are rare and a second caller of the same key
  // must wait for the first anyway.
  private let lock = NSLock()
  private var values: [Key: Value] = [:]

  func value(for key: Key, compute: () -> Value) -> Value {
    lock.lock()
    defer { lock.unlock() }
    if let value = values[key] { return value }
    let value = compute()
    values[key] = value
    return value
  }
}
