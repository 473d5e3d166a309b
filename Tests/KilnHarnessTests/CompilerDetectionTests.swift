// Finding a compiler that builds OpenMP code, and the errors when none can be used.
import Foundation
import KilnTestSupport
import Testing

@testable import KilnHarness

@Suite struct CompilerDetectionTests {
  @Test func detectsACompilerWhoseProbeRunsTwoThreads() throws {
    let compiler = try Fixture.compiler()
    #expect(compiler.probedThreads == 2)
    #expect(compiler.path.hasPrefix("/"))
    #expect(!compiler.version.isEmpty)
    #expect(compiler.openMPFlags.first == "-fopenmp")
  }

  /// Every default candidate installed here must pass the probe; a clang without its own libomp gets
  /// Debian's libomp folder on the link line (the Swift toolchain's clang 21 is such a one).
  static let installedCandidates = (CCompiler.defaultCandidates + ["/opt/swift/usr/bin/clang"]).filter {
    resolveExecutable($0, searchPath: ProcessInfo.processInfo.environment["PATH"]) != nil
  }

  @Test(arguments: installedCandidates)
  func installedCandidatesBuildOpenMP(_ candidate: String) throws {
    let path = ProcessInfo.processInfo.environment["PATH"]
    let compiler = try CCompiler.probe(command: candidate, searchPath: path).get()
    #expect(compiler.probedThreads == 2)
    if candidate == "/opt/swift/usr/bin/clang" {
      #expect(compiler.family == .clang)
      #expect(compiler.openMPLinkFlags.contains { $0.hasPrefix("-L/usr/lib/llvm-") })
    }
  }

  @Test func ccNamingAMissingFileIsAClearError() {
    let error = #expect(throws: HarnessError.self) {
      try CCompiler.detect(environment: ["CC": "/nonexistent", "PATH": "/usr/bin:/bin"])
    }
    let text = error?.description ?? ""
    #expect(text.contains("'/nonexistent'"))
    #expect(text.contains("CC environment variable"))
    #expect(text.contains("not found"))
  }

  @Test func bogusCcOverrideIsAClearErrorEvenWhenCCIsFine() {
    let error = #expect(throws: HarnessError.self) {
      try CCompiler.detect(override: "kiln-bogus-cc", environment: ["CC": "gcc", "PATH": "/usr/bin:/bin"])
    }
    let text = error?.description ?? ""
    #expect(text.contains("'kiln-bogus-cc' given by --cc cannot be used: not found"))
    #expect(text.contains("Pass --cc or set CC"))
  }

  @Test func noCandidateOnPathListsEachAndSaysWhatToInstall() throws {
    let empty = try PackagePaths.temporaryDirectory("kiln-empty-path")
    let error = #expect(throws: HarnessError.self) {
      try CCompiler.detect(environment: ["PATH": empty.path])
    }
    let text = error?.description ?? ""
    #expect(text.contains("no C compiler that builds OpenMP code was found"))
    for candidate in CCompiler.defaultCandidates { #expect(text.contains("\(candidate): not found")) }
    #expect(text.contains("apt-get install clang libomp-dev"))
  }

  /// A "compiler" that runs and has a version but rejects -fopenmp: the reason quotes its error.
  @Test func compilerWithoutOpenMPIsRejectedWithItsMessage() throws {
    let dir = try PackagePaths.temporaryDirectory("kiln-fake-cc")
    let script = try Fixture.write(
      """
      #!/bin/sh
      if [ "$1" = "--version" ]; then echo "fakecc 1.0"; exit 0; fi
      echo "fakecc: error: unsupported option '-fopenmp'" >&2
      exit 1

      """, "fakecc", in: dir)
    try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: script.path)
    let error = #expect(throws: HarnessError.self) {
      try CCompiler.detect(override: script.path, environment: ["PATH": "/usr/bin:/bin"])
    }
    #expect(error?.description.contains("unsupported option '-fopenmp'") == true)
    #expect(error?.description.contains(script.path) == true)
  }

  @Test func ccMayCarryFlags() throws {
    let compiler = try Fixture.compiler()
    let withFlags = try CCompiler.detect(
      environment: ["CC": "\(compiler.path) -DKILN_FROM_CC=1", "PATH": "/usr/bin:/bin"])
    #expect(withFlags.path == compiler.path)
    #expect(withFlags.extraFlags == ["-DKILN_FROM_CC=1"])
  }

  @Test func versionParsing() {
    #expect(CCompiler.familyOf(versionLine: "gcc (Debian 12.2.0-14+deb12u1) 12.2.0") == .gcc)
    #expect(CCompiler.familyOf(versionLine: "Debian clang version 14.0.6") == .clang)
    #expect(CCompiler.familyOf(versionLine: "tcc version 0.9.27") == .other)
    #expect(CCompiler.clangMajorVersion("Debian clang version 14.0.6") == 14)
    #expect(CCompiler.clangMajorVersion("clang version 21.0.0 (https://github.com/swiftlang/llvm-project.git)") == 21)
    #expect(CCompiler.clangMajorVersion("gcc (Debian 12.2.0-14+deb12u1) 12.2.0") == nil)
  }
}
