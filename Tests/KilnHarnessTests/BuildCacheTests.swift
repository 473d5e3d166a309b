// The content-hash build cache: what hits, what misses, where it lives, and atomic installation.
import Foundation
import KilnTestSupport
import Testing

@testable import KilnHarness

@Suite struct BuildCacheTests {
  /// A builder with a fresh cache, the fixture source and header written into `scratch/src`.
  func setUp() throws -> (builder: CBuilder, source: URL, header: URL, scratch: URL) {
    let (builder, scratch) = try Fixture.builder()
    let dir = scratch.appendingPathComponent("src")
    let source = try Fixture.write(Fixture.vectorLibrary, "vector.c", in: dir)
    let header = try Fixture.write(Fixture.scaleHeader, "scale.h", in: dir)
    return (builder, source, header, scratch)
  }

  @Test func secondIdenticalBuildIsAHit() throws {
    let (builder, source, _, _) = try setUp()
    let first = try builder.buildSharedLibrary(sources: [source])
    let modified = try FileManager.default.attributesOfItem(atPath: first.url.path)[.modificationDate] as? Date
    let second = try builder.buildSharedLibrary(sources: [source])
    #expect(!first.cacheHit && second.cacheHit)
    #expect(second.url == first.url && second.key == first.key && second.compileSeconds == 0)
    #expect(first.key.count == 64)
    // The file was not rewritten by the hit.
    #expect(try FileManager.default.attributesOfItem(atPath: second.url.path)[.modificationDate] as? Date == modified)
  }

  struct Change: Sendable, CustomTestStringConvertible {
    var testDescription: String
    var options: BuildOptions = BuildOptions()
    var sourceText: String? = nil
    var headerText: String? = nil
  }

  /// Each change alone must give a new key and a fresh compilation.
  @Test(arguments: [
    Change(testDescription: "a flag", options: BuildOptions(extraFlags: ["-DKILN_UNUSED_MACRO=1"])),
    Change(testDescription: "optimization", options: BuildOptions(optimization: .portable)),
    Change(testDescription: "no OpenMP", options: BuildOptions(openMP: false)),
    Change(testDescription: "warnings as errors", options: BuildOptions(warningsAsErrors: true)),
    Change(
      testDescription: "one source byte",
      sourceText: Fixture.vectorLibrary.replacingOccurrences(of: "int threads = 1;", with: "int threads = 2;")),
    Change(testDescription: "an included header", headerText: "#define KILN_OFFSET 0.25f\n"),
  ])
  func changeMisses(_ change: Change) throws {
    let (builder, source, header, _) = try setUp()
    let base = try builder.buildSharedLibrary(sources: [source])
    if let text = change.sourceText { try text.write(to: source, atomically: true, encoding: .utf8) }
    if let text = change.headerText { try text.write(to: header, atomically: true, encoding: .utf8) }
    let changed = try builder.buildSharedLibrary(sources: [source], options: change.options)
    #expect(!changed.cacheHit)
    #expect(changed.key != base.key && changed.url != base.url)
    #expect(FileManager.default.fileExists(atPath: base.url.path))
  }

  /// The same bytes in another folder are the same build: the key holds content, not paths.
  @Test func sameContentElsewhereHits() throws {
    let (builder, source, _, scratch) = try setUp()
    let first = try builder.buildSharedLibrary(sources: [source])
    let otherDir = scratch.appendingPathComponent("copy")
    let copy = try Fixture.write(Fixture.vectorLibrary, "vector.c", in: otherDir)
    try Fixture.write(Fixture.scaleHeader, "scale.h", in: otherDir)
    let second = try builder.buildSharedLibrary(sources: [copy])
    #expect(second.cacheHit && second.url == first.url)
    // An executable of the same sources is another product.
    #expect(try builder.buildExecutable(sources: [makeMain(in: scratch)]).key != first.key)
  }

  func makeMain(in dir: URL) throws -> URL {
    try Fixture.write("int main(void) { return 0; }\n", "main.c", in: dir)
  }

  /// Installation goes through a temporary name and a rename: no temporary is left behind, and
  /// concurrent builds of one key all end with the one complete file.
  @Test func concurrentBuildsInstallOneCompleteFile() async throws {
    let (builder, source, _, _) = try setUp()
    let keys = try await withThrowingTaskGroup(of: BuildResult.self) { group in
      for _ in 0..<3 { group.addTask { try builder.buildSharedLibrary(sources: [source]) } }
      return try await group.reduce(into: [BuildResult]()) { $0.append($1) }
    }
    #expect(Set(keys.map(\.url)).count == 1)
    let names = try FileManager.default.contentsOfDirectory(atPath: builder.cache.directory.path)
    #expect(names == [keys[0].url.lastPathComponent])
    let library = try SharedLibrary(keys[0].url)
    #expect(try Fixture.callInt(library, "kiln_openmp_enabled") == 1)
  }

  @Test func includeDirectivesAreFound() {
    let text = """
      #include <stdio.h>
        #  include "a.h" /* comment */
      #include"b/c.h"
      #define X "not.h"
      #import "d.h"

      """
    let found = BuildCache.includeDirectives(in: text)
    #expect(found.map(\.name) == ["stdio.h", "a.h", "b/c.h"])
    #expect(found.map(\.quoted) == [false, true, true])
  }

  /// Headers in given include folders are hashed, also through nested includes and `<name>` includes.
  @Test func headersInIncludeDirsKeyTheBuild() throws {
    let (builder, scratch) = try Fixture.builder()
    let include = scratch.appendingPathComponent("include")
    let source = try Fixture.write("#include <outer.h>\nint kiln_value(void) { return VALUE; }\n", "v.c", in: scratch)
    try Fixture.write("#include \"inner.h\"\n", "outer.h", in: include)
    let inner = try Fixture.write("#define VALUE 1\n", "inner.h", in: include)
    let first = try builder.buildSharedLibrary(sources: [source], includeDirs: [include])
    #expect(try builder.buildSharedLibrary(sources: [source], includeDirs: [include]).cacheHit)
    try "#define VALUE 2\n".write(to: inner, atomically: true, encoding: .utf8)
    let second = try builder.buildSharedLibrary(sources: [source], includeDirs: [include])
    #expect(!second.cacheHit && second.key != first.key)
    let library = try SharedLibrary(second.url)
    #expect(try Fixture.callInt(library, "kiln_value") == 2)
  }

  struct Location: Sendable, CustomTestStringConvertible {
    var environment: [String: String]
    var expected: String
    var testDescription: String { environment.keys.sorted().joined(separator: "+") }
  }

  @Test(arguments: [
    Location(environment: ["KILN_CACHE_DIR": "/k", "XDG_CACHE_HOME": "/x", "HOME": "/h"], expected: "/k"),
    Location(environment: ["XDG_CACHE_HOME": "/x", "HOME": "/h"], expected: "/x/kiln"),
    Location(environment: ["KILN_CACHE_DIR": "", "XDG_CACHE_HOME": "", "HOME": "/h"], expected: "/h/.cache/kiln"),
  ])
  func cacheDirectoryFollowsTheEnvironment(_ c: Location) {
    #expect(BuildCache.defaultDirectory(environment: c.environment).path == c.expected)
  }
}
