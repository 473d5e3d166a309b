// The on-disk memory of successful compiler and OpenBLAS probes: reused by a new process, keyed by the binary.
import Foundation
import KilnTestSupport
import Testing

@testable import KilnHarness

@Suite struct ProbeCacheTests {
  let path = ProcessInfo.processInfo.environment["PATH"]

  /// A first lookup probes and records; a second reads the record (a marker written into it comes back) and
  /// does not probe; a different compiler binary (another key) probes again.
  @Test func successfulCompilerProbesAreRememberedPerBinary() throws {
    let dir = try PackagePaths.temporaryDirectory("kiln-probe-cache")
    var probes = 0
    func lookup(_ command: String) -> Result<CCompiler, CCompiler.ProbeFailure> {
      ProbeCache.compiler(command: command, searchPath: path, directory: dir) {
        probes += 1
        return CCompiler.probe(command: command, searchPath: path)
      }
    }
    let first = try lookup("gcc").get()
    #expect(probes == 1)
    let files = try FileManager.default.contentsOfDirectory(atPath: dir.path).filter { $0.hasPrefix("cc-") }
    #expect(files.count == 1)
    let record = dir.appendingPathComponent(files[0])
    var stored = try #require(ProbeCache.read(ProbeCache.CompilerRecord.self, from: record))
    stored.probeSeconds = 1234.5
    ProbeCache.write(stored, to: record)
    let second = try lookup("gcc").get()
    #expect(probes == 1, "the record was used")
    #expect(second.probeSeconds == 1234.5 && second.path == first.path && second.family == first.family)
    #expect(second.openMPFlags == first.openMPFlags)
    _ = try lookup("gcc -O1").get()
    #expect(probes == 2, "other flags are another key")
  }

  /// A failed probe leaves no record, so the next run reports the problem afresh.
  @Test func failuresAreNotRemembered() throws {
    let dir = try PackagePaths.temporaryDirectory("kiln-probe-cache")
    let failed = ProbeCache.compiler(command: "gcc", searchPath: path, directory: dir) {
      .failure(CCompiler.ProbeFailure(reason: "libgomp missing"))
    }
    #expect(throws: CCompiler.ProbeFailure.self) { try failed.get() }
    #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path).isEmpty)
  }

  /// OpenBLAS records are keyed by the compiler and cblas.h; the second lookup does not probe.
  @Test func openBLASProbeIsRemembered() throws {
    let dir = try PackagePaths.temporaryDirectory("kiln-probe-cache")
    let compiler = try CCompiler.probe(command: "gcc", searchPath: path).get()
    var probes = 0
    for _ in 0..<2 {
      let blas = try ProbeCache.openBLAS(compiler: compiler, directory: dir) {
        probes += 1
        return OpenBLAS.probe(compiler)
      }.get()
      #expect(blas.linkFlags == ["-lopenblas"])
    }
    #expect(probes == 1)
  }
}
