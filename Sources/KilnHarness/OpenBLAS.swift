// Finding OpenBLAS (cblas.h and the library) for a compiler, by probe-compiling a cblas_sgemm call.
import Foundation

/// How to compile and link against OpenBLAS with one compiler: shown to work by a probe.
public struct OpenBLAS: Sendable, Hashable {
  /// `-I` folders needed for `cblas.h` (empty when the compiler finds it by default).
  public var includeDirs: [String]
  /// Link flags, e.g. `["-lopenblas"]`.
  public var linkFlags: [String]

  /// Where distributions put OpenBLAS's `cblas.h`; Debian's libopenblas-dev uses the multiarch folder.
  public static let headerSearchDirs: [String] = [
    "/usr/include/x86_64-linux-gnu", "/usr/include/aarch64-linux-gnu", "/usr/include/openblas",
    "/usr/local/include", "/usr/local/opt/openblas/include", "/opt/homebrew/opt/openblas/include",
  ]

  /// Finds OpenBLAS for `compiler`, probing once per process (and remembering a success on disk, see
  /// `ProbeCache`): a tiny program calling `cblas_sgemm` must
  /// build with it and print the right 2x2 product.
  /// - Throws: `HarnessError.openBLASNotFound` naming libopenblas-dev.
  public static func detect(for compiler: CCompiler) throws -> OpenBLAS {
    let key = "\(compiler.path)\u{0}\(compiler.extraFlags.joined(separator: " "))"
    let found = cache.value(for: key) {
      ProbeCache.openBLAS(compiler: compiler, directory: ProbeCache.directory()) { probe(compiler) }
    }
    switch found {
    case .success(let blas): return blas
    case .failure(let failure):
      throw HarnessError.openBLASNotFound(compiler: compiler.name, reason: failure.reason)
    }
  }

  static let cache = OnceCache<String, Result<OpenBLAS, CCompiler.ProbeFailure>>()

  /// C = A·B with A = [1 2; 3 4], B = [5 6; 7 8] (row-major): prints 19 22 43 50.
  static let probeSource = """
    #include <stdio.h>
    #include <cblas.h>
    int main(void) {
      const float a[4] = {1, 2, 3, 4}, b[4] = {5, 6, 7, 8};
      float c[4] = {0, 0, 0, 0};
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, 2, 2, 2, 1.0f, a, 2, b, 2, 0.0f, c, 2);
      printf("%g %g %g %g\\n", c[0], c[1], c[2], c[3]);
      return 0;
    }

    """

  static func probe(_ compiler: CCompiler) -> Result<OpenBLAS, CCompiler.ProbeFailure> {
    let withHeader = headerSearchDirs.filter { FileManager.default.fileExists(atPath: "\($0)/cblas.h") }
    // Without -I first: a header in a default search folder needs none, and adding a system folder as -I
    // can reorder the compiler's own headers.
    let includeChoices: [[String]] = [[]] + withHeader.map { [$0] }
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("kiln-blas-\(UUID().uuidString)")
    defer { try? FileManager.default.removeItem(at: dir) }
    var lastError = ""
    do {
      try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
      let source = dir.appendingPathComponent("blas_probe.c")
      let binary = dir.appendingPathComponent("blas_probe")
      try probeSource.write(to: source, atomically: true, encoding: .utf8)
      for includeDirs in includeChoices {
        let arguments =
          compiler.extraFlags + includeDirs.map { "-I\($0)" } + [source.path, "-o", binary.path, "-lopenblas"]
        let compile = try runProcess(compiler.path, arguments: arguments)
        guard compile.succeeded else {
          let line = compile.stderr.split(separator: "\n").first { $0.contains("error") } ?? ""
          lastError = line.isEmpty ? "the cblas_sgemm probe does not build" : String(line)
          continue
        }
        let run = try runProcess(binary.path)
        let printed = run.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        guard run.succeeded, printed == "19 22 43 50" else {
          return .failure(.init(reason: "the cblas_sgemm probe printed '\(printed)' instead of '19 22 43 50'"))
        }
        return .success(OpenBLAS(includeDirs: includeDirs, linkFlags: ["-lopenblas"]))
      }
    } catch {
      return .failure(.init(reason: "\(error)"))
    }
    if withHeader.isEmpty && lastError.contains("cblas.h") {
      lastError = "cblas.h not found in the default include path or in \(headerSearchDirs.joined(separator: ", "))"
    }
    return .failure(.init(reason: lastError))
  }
}
