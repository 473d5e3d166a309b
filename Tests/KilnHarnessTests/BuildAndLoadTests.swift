// Building C into shared libraries, loading and calling them, with and without OpenMP.
import Foundation
import KilnTestSupport
import Testing

@testable import KilnHarness

@Suite struct BuildAndLoadTests {
  /// Builds the fixture library into a fresh cache and loads it.
  func buildVectorLibrary(options: BuildOptions = BuildOptions()) throws -> (SharedLibrary, BuildResult) {
    let (builder, scratch) = try Fixture.builder()
    let source = try Fixture.write(Fixture.vectorLibrary, "vector.c", in: scratch)
    try Fixture.write(Fixture.scaleHeader, "scale.h", in: scratch)
    let built = try builder.buildSharedLibrary(sources: [source], options: options)
    return (try SharedLibrary(built.url), built)
  }

  /// Calls kiln_scale_add on 1000 elements; all values are small integers (+ 0.5), so exact.
  func expectScaleAddWorks(_ library: SharedLibrary) throws {
    let scaleAdd = try library.symbol("kiln_scale_add", as: Fixture.ScaleAdd.self)
    let n = 1000
    let x = (0..<n).map { Float($0) }
    var y = (0..<n).map { Float($0 % 7) }
    x.withUnsafeBufferPointer { xp in
      y.withUnsafeMutableBufferPointer { yp in scaleAdd(Int32(n), 2, xp.baseAddress, yp.baseAddress) }
    }
    let expected = (0..<n).map { Float(2 * $0 + $0 % 7) + 0.5 }
    #expect(difference(y, expected, rtol: 0, atol: 0) == nil)
  }

  @Test func openMPLibraryComputesInParallel() throws {
    let (library, built) = try buildVectorLibrary()
    #expect(!built.cacheHit)
    #expect(built.command.contains("-fopenmp") && built.command.contains("-shared") && built.command.contains("-lm"))
    try expectScaleAddWorks(library)
    #expect(try Fixture.callInt(library, "kiln_openmp_enabled") == 1)
    #expect(try Fixture.callInt(library, "kiln_region_threads") == 2)
  }

  /// The same OpenMP-annotated source without -fopenmp: pragmas ignored, one thread, same results.
  @Test func withoutOpenMPTheSameSourceRunsSequentially() throws {
    let (library, built) = try buildVectorLibrary(options: BuildOptions(openMP: false))
    #expect(!built.command.contains("-fopenmp"))
    try expectScaleAddWorks(library)
    #expect(try Fixture.callInt(library, "kiln_openmp_enabled") == 0)
    #expect(try Fixture.callInt(library, "kiln_region_threads") == 1)
  }

  @Test func portableBuildRuns() throws {
    let (library, built) = try buildVectorLibrary(options: BuildOptions(optimization: .portable))
    #expect(!built.command.contains("-march=native"))
    try expectScaleAddWorks(library)
  }

  @Test func warningsAsErrorsFailsWithTheCompilersMessage() throws {
    let (builder, scratch) = try Fixture.builder()
    let source = try Fixture.write("int kiln_f(int x) {\n  int unused_value;\n  return x;\n}\n", "warn.c", in: scratch)
    // Without -Werror the warning does not stop the build.
    #expect(throws: Never.self) { try builder.buildSharedLibrary(sources: [source]) }
    let error = #expect(throws: HarnessError.self) {
      try builder.buildSharedLibrary(sources: [source], options: BuildOptions(warningsAsErrors: true))
    }
    guard case .compileFailed(let command, let status, let diagnostics)? = error else {
      Issue.record("expected compileFailed, got \(String(describing: error))")
      return
    }
    #expect(status != 0)
    #expect(command.contains("-Werror") && command.contains("-std=c11") && command.contains("warn.c"))
    #expect(diagnostics.contains("unused_value"))
    #expect(diagnostics.contains("warn.c:2"))
  }

  @Test func syntaxErrorsAreReportedNotCrashed() throws {
    let (builder, scratch) = try Fixture.builder()
    let source = try Fixture.write("int kiln_broken(void) { return 1 }\n", "broken.c", in: scratch)
    let error = #expect(throws: HarnessError.self) { try builder.buildExecutable(sources: [source]) }
    let text = error?.description ?? ""
    #expect(text.contains("C compilation failed"))
    #expect(text.contains("broken.c:1"))
    #expect(text.contains(builder.compiler.path))
    // A failed build leaves nothing behind in the cache.
    let left = (try? FileManager.default.contentsOfDirectory(atPath: builder.cache.directory.path)) ?? []
    #expect(left.isEmpty)
  }

  @Test func missingSourceIsAClearError() throws {
    let (builder, scratch) = try Fixture.builder()
    let missing = scratch.appendingPathComponent("absent.c")
    let error = #expect(throws: HarnessError.self) { try builder.buildSharedLibrary(sources: [missing]) }
    #expect(error?.description.contains(missing.path) == true)
    #expect(throws: HarnessError.invalidOptions("a build needs at least one C source file")) {
      try builder.buildSharedLibrary(sources: [])
    }
  }

  @Test func addressSanitizerIsRefusedForSharedLibraries() throws {
    let (builder, scratch) = try Fixture.builder()
    let source = try Fixture.write("int kiln_one(void) { return 1; }\n", "one.c", in: scratch)
    let error = #expect(throws: HarnessError.self) {
      try builder.buildSharedLibrary(sources: [source], options: BuildOptions(sanitizers: [.address]))
    }
    #expect(error?.description.contains("buildExecutable") == true)
  }

  @Test func loadErrorsNameTheLibraryAndSymbol() throws {
    let (library, built) = try buildVectorLibrary()
    let error = #expect(throws: HarnessError.self) {
      try library.symbol("kiln_no_such_function", as: Fixture.IntFunction.self)
    }
    #expect(error?.description.contains("'kiln_no_such_function'") == true)
    #expect(error?.description.contains(built.url.path) == true)
    let wrongType = #expect(throws: HarnessError.self) { try library.symbol("kiln_scale_add", as: Int8.self) }
    #expect(wrongType?.description.contains("not a @convention(c) function type") == true)

    let scratch = try PackagePaths.temporaryDirectory("kiln-load")
    let missing = scratch.appendingPathComponent("libabsent.so")
    #expect(throws: HarnessError.libraryLoadFailed(path: missing.path, reason: "no such file")) {
      try SharedLibrary(missing)
    }
    let notALibrary = try Fixture.write("not an ELF file\n", "libtext.so", in: scratch)
    let loadError = #expect(throws: HarnessError.self) { try SharedLibrary(notALibrary) }
    #expect(loadError?.description.contains(notALibrary.path) == true)
    #expect(loadError?.description.contains("cannot load the shared library") == true)
  }

  /// A program's output and exit status come back; a large output on both streams does not deadlock.
  @Test func runExecutableCapturesOutputAndStatus() throws {
    let (builder, scratch) = try Fixture.builder()
    let source = try Fixture.write(
      """
      #include <stdio.h>
      #include <stdlib.h>
      int main(int argc, char **argv) {
        for (int i = 0; i < 20000; i++) { fprintf(stderr, "e%d\\n", i); printf("o%d\\n", i); }
        printf("args=%d last=%s\\n", argc, argv[argc - 1]);
        return atoi(argv[1]);
      }

      """, "chatty.c", in: scratch)
    let built = try builder.buildExecutable(sources: [source], options: BuildOptions(openMP: false))
    let result = try runExecutable(built.url, arguments: ["3", "hello"])
    #expect(result.status == 3 && !result.signaled && !result.succeeded)
    #expect(result.stdout.hasSuffix("o19999\nargs=3 last=hello\n"))
    #expect(result.stderr.hasSuffix("e19999\n"))
    #expect(result.stderr.split(separator: "\n").count == 20000)
  }
}
