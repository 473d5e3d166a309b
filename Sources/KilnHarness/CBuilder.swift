// Building C sources into a shared library or an executable, through the content-hash cache.
import Foundation

/// What a build produced.
public struct BuildResult: Sendable, Hashable {
  /// The built file, inside the cache folder.
  public var url: URL
  /// True when an identical earlier build was reused and the compiler did not run.
  public var cacheHit: Bool
  /// The SHA-256 cache key (64 hex digits).
  public var key: String
  /// The compiler command line of this build (as it was or would have been run).
  public var command: [String]
  /// Wall time of the compilation in seconds; 0 on a cache hit.
  public var compileSeconds: Double
}

/// Compiles C with one probed compiler into a content-addressed cache.
public struct CBuilder: Sendable {
  /// The probed compiler every build uses.
  public var compiler: CCompiler
  /// Where products are stored, named by their content hash.
  public var cache: BuildCache

  /// A builder using `compiler`, caching into `cacheDirectory`.
  public init(compiler: CCompiler, cacheDirectory: URL = BuildCache.defaultDirectory()) {
    self.compiler = compiler
    self.cache = BuildCache(directory: cacheDirectory)
  }

  /// Detects the compiler (`--cc`, then `CC`, then the defaults) and uses the default cache folder of
  /// `environment` (`KILN_CACHE_DIR`, …).
  public static func detect(
    override: String? = nil, environment: [String: String] = ProcessInfo.processInfo.environment
  ) throws -> CBuilder {
    let compiler = try CCompiler.detect(override: override, environment: environment)
    return CBuilder(compiler: compiler, cacheDirectory: BuildCache.defaultDirectory(environment: environment))
  }

  /// Builds a position-independent shared library (`-fPIC -shared`, linked with -lm, plus OpenMP and
  /// OpenBLAS as `options` ask) to load with `SharedLibrary`. Builds identical to an earlier one are reused.
  /// - Throws: `HarnessError.compileFailed` with the command line and diagnostics;
  ///   `.invalidOptions` for AddressSanitizer, which cannot be loaded into this process.
  public func buildSharedLibrary(
    sources: [URL], includeDirs: [URL] = [], options: BuildOptions = BuildOptions()
  ) throws -> BuildResult {
    guard !options.sanitizers.contains(.address) else {
      throw HarnessError.invalidOptions(
        "AddressSanitizer cannot run in a library loaded into a process built without it; "
          + "build a C test driver with buildExecutable and run it with runExecutable instead")
    }
    return try build(kind: .sharedLibrary, sources: sources, includeDirs: includeDirs, options: options)
  }

  /// Builds an executable (linked with -lm, plus OpenMP and OpenBLAS as `options` ask), e.g. a C test
  /// driver for sanitizer runs. Builds identical to an earlier one are reused.
  /// - Throws: `HarnessError.compileFailed` with the command line and diagnostics.
  public func buildExecutable(
    sources: [URL], includeDirs: [URL] = [], options: BuildOptions = BuildOptions()
  ) throws -> BuildResult {
    try build(kind: .executable, sources: sources, includeDirs: includeDirs, options: options)
  }

  // MARK: - The build

  enum Kind: String { case sharedLibrary = "shared-library", executable }

  /// The compile and link flags of a build, split around the `-o output sources` part of the command.
  struct Flags {
    var compile: [String]
    var link: [String]
  }

  func flags(kind: Kind, includeDirs: [URL], options: BuildOptions) throws -> Flags {
    var compile = compiler.extraFlags + options.codeFlags
    var link: [String] = []
    if kind == .sharedLibrary {
      compile += ["-fPIC", "-shared"]
      // clang links sanitizer runtimes only into executables unless told to use the shared ones, which
      // live in its runtime folder, off the loader's path.
      if !options.sanitizers.isEmpty && compiler.family == .clang {
        compile.append("-shared-libsan")
        if let dir = compiler.runtimeDirectory { link.append("-Wl,-rpath,\(dir)") }
      }
    }
    if options.openMP {
      compile.append("-fopenmp")
      link += compiler.openMPLinkFlags
    }
    compile += includeDirs.map { "-I\($0.path)" }
    if options.blas {
      let blas = try OpenBLAS.detect(for: compiler)
      compile += blas.includeDirs.map { "-I\($0)" }
      link += blas.linkFlags
    }
    return Flags(compile: compile, link: link + ["-lm"])
  }

  func build(kind: Kind, sources: [URL], includeDirs: [URL], options: BuildOptions) throws -> BuildResult {
    guard let first = sources.first else {
      throw HarnessError.invalidOptions("a build needs at least one C source file")
    }
    let flags = try flags(kind: kind, includeDirs: includeDirs, options: options)
    // User -I folders are left out of the key: the headers found in them are hashed by content instead.
    let userIncludes = Set(includeDirs.map { "-I\($0.path)" })
    let key = try BuildCache.key(
      kind: kind.rawValue, compiler: compiler,
      flags: flags.compile.filter { !userIncludes.contains($0) } + ["--"] + flags.link,
      sources: sources, includeDirs: includeDirs)
    let stem = first.deletingPathExtension().lastPathComponent
    let fileName = kind == .sharedLibrary ? "lib\(stem)-\(key).so" : "\(stem)-\(key)"
    let final = cache.directory.appendingPathComponent(fileName)
    let command = { (output: URL) in
      [self.compiler.path] + flags.compile + ["-o", output.path] + sources.map(\.path) + flags.link
    }
    if FileManager.default.fileExists(atPath: final.path) {
      return BuildResult(url: final, cacheHit: true, key: key, command: command(final), compileSeconds: 0)
    }
    try cache.prepare()
    let temporary = cache.temporaryURL(for: final)
    let arguments = command(temporary)
    let started = Date()
    let result = try runProcess(arguments[0], arguments: Array(arguments.dropFirst()))
    let seconds = Date().timeIntervalSince(started)
    guard result.succeeded else {
      try? FileManager.default.removeItem(at: temporary)
      let output = [result.stderr, result.stdout].filter { !$0.isEmpty }.joined(separator: "\n")
      throw HarnessError.compileFailed(
        command: arguments.map(shellQuoted).joined(separator: " "), status: result.status,
        diagnostics: trimmedDiagnostics(output))
    }
    try cache.install(temporary, as: final)
    return BuildResult(url: final, cacheHit: false, key: key, command: command(final), compileSeconds: seconds)
  }
}
