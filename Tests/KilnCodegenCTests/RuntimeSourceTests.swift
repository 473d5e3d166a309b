// The C runtime as files: all of them pasted, status codes agreeing with Swift, clean under every compiler.
import Foundation
import KilnCodegenC
import KilnHarness
import KilnTestSupport
import Testing

@Suite struct RuntimeSourceTests {
  @Test func orderNamesEveryBundledFileOnce() throws {
    let listed = RuntimeSource.order + RuntimeSource.trainingOrder
    #expect(try RuntimeSource.bundledNames() == listed.sorted())
    #expect(Set(listed).count == listed.count)
    for file in try RuntimeSource.all + RuntimeSource.training {
      #expect(file.text.hasPrefix("/* \(file.name): "), "\(file.name) must open with its one-line banner")
    }
  }

  @Test func everyDefinitionIsStaticAndPrefixed() throws {
    // Pasted into each model's .c: any external symbol would clash when two models are linked together.
    for file in try RuntimeSource.all + RuntimeSource.training {
      for line in file.text.split(separator: "\n") where line.hasPrefix("KILN_RT_MAYBE_UNUSED") {
        #expect(line.contains(" static "), "\(file.name): not static: \(line)")
        #expect(
          line.contains(" kiln_rt_") || line.contains(" *kiln_rt_"), "\(file.name): not prefixed kiln_rt_: \(line)")
      }
      let topLevel = file.text.split(separator: "\n").filter {
        guard let first = $0.first else { return false }
        return first.isLetter && !$0.hasPrefix("KILN_RT_MAYBE_UNUSED") && !$0.hasPrefix("typedef")
          && !$0.hasPrefix("enum") && !$0.hasPrefix("KILN_") && !$0.hasPrefix("done:")
      }
      #expect(topLevel.isEmpty, "\(file.name): top-level declarations that are not static: \(topLevel)")
    }
  }

  @Test func statusHeaderMatchesTheSwiftEnum() throws {
    let header = try RuntimeSource.text("kiln_status.h")
    var codes: [String: Int32] = [:]
    for line in header.split(separator: "\n") {
      let parts = line.trimmingCharacters(in: .whitespaces).split(separator: "=").map {
        $0.trimmingCharacters(in: CharacterSet(charactersIn: " ,"))
      }
      if parts.count == 2, parts[0].hasPrefix("KILN_"), let value = Int32(parts[1]) { codes[parts[0]] = value }
    }
    #expect(codes == Dictionary(uniqueKeysWithValues: RuntimeStatus.allCases.map { ($0.cName, $0.rawValue) }))
  }

  @Test func misuseIsReportedNotCrashed() throws {
    let output = try RuntimeDriver.sanitized.get().run(["api", "/nonexistent/kiln-runtime-test"])
    let lines = output.split(separator: "\n").map {
      $0.split(separator: "\t", omittingEmptySubsequences: false).map(String.init)
    }
    var messages: [Int32: String] = [:]
    for line in lines where line[0] == "strerror" { messages[Int32(line[1]) ?? 99] = line[2] }
    for status in RuntimeStatus.allCases {
      #expect(messages[status.rawValue].map { !$0.isEmpty && $0 != "unknown status code" } == true, "\(status)")
    }
    #expect(Set(RuntimeStatus.allCases.compactMap { messages[$0.rawValue] }).count == RuntimeStatus.allCases.count)
    #expect(messages[1] == "unknown status code" && messages[-16] == "unknown status code")
    let results = Dictionary(
      lines.filter { $0.count == 2 }.map { ($0[0], Int32($0[1]) ?? 99) }, uniquingKeysWith: { a, _ in a })
    let expected: [String: RuntimeStatus] = [
      "st-null-path": .nullArgument, "st-null-params": .nullArgument, "st-null-table": .nullArgument,
      "st-negative-count": .invalidArgument, "st-duplicate-name": .invalidArgument, "st-bad-rank": .invalidArgument,
      "wt-null-network": .nullArgument, "wt-negative-count": .invalidArgument,
      "st-no-detail": .io, "wt-no-detail": .io,
    ]
    #expect(results == expected.mapValues(\.rawValue))
    // An 8-byte buffer receives 7 characters and a NUL; the byte after it is untouched.
    #expect(
      lines.first { $0[0] == "small-detail" } == ["small-detail", "\(RuntimeStatus.io.rawValue)", "cannot ", "x"])
  }

  @Test func theSanitizedDriverFailsOnALeak() throws {
    // Every other runtime test relies on a leak or a sanitizer report making `run` throw.
    #expect(throws: BenchError.self) { try RuntimeDriver.sanitized.get().run(["leak"]) }
    #expect(try RuntimeDriver.plain.get().run(["leak"]) == "")
  }

  @Test func headerLengthAboveTheLimitIsRefused() throws {
    // A sparse file just big enough that the length fits inside it, so only the 100 MB limit refuses it.
    let dir = try PackagePaths.temporaryDirectory("kiln-runtime-limit")
    defer { try? FileManager.default.removeItem(at: dir) }
    let url = dir.appendingPathComponent("huge.safetensors")
    try Data(SafeTensorsFixtures.littleEndian(UInt64(100_000_001))).write(to: url)
    let handle = try FileHandle(forWritingTo: url)
    try handle.truncate(atOffset: 100_000_100)
    try handle.close()
    let result = try #require(try RuntimeDriver.sanitized.get().loadSafeTensors([("w", [1])], files: [url.path]).first)
    #expect(result.status == .format)
    #expect(
      result.detail == "header length 100000001 is beyond the end of the file (100000092 bytes follow it) "
        + "or above the limit of 100000000 bytes")
  }

  @Test func buildsCleanWithEveryCompilerAndWithoutSanitizers() throws {
    // The plain driver, then each installed compiler with stricter warnings than generated code gets.
    let plain = try RuntimeDriver.plain.get()
    #expect(try plain.run(["api", "/nonexistent/kiln-runtime-test"]).contains("st-null-path\t-1\n"))
    var built = 0
    for name in CCompiler.defaultCandidates {
      guard
        case .success(let compiler) = CCompiler.probe(
          command: name, searchPath: ProcessInfo.processInfo.environment["PATH"])
      else {
        continue
      }
      let builder = CBuilder(compiler: compiler, cacheDirectory: try KernelBench.builder.get().cache.directory)
      let driver = try RuntimeDriver(
        builder: builder,
        options: BuildOptions(
          openMP: false, warningsAsErrors: true, extraFlags: ["-Wpedantic", "-Wshadow", "-Wconversion"]))
      let (entries, bits) = SafeTensorsFixtures.converted("F16")
      let dir = try PackagePaths.temporaryDirectory("kiln-runtime-cc")
      defer { try? FileManager.default.removeItem(at: dir) }
      let files = try SafeTensorsFixtures.write([SafeTensorsFixtures.file(entries)], in: dir)
      let result = try #require(try driver.loadSafeTensors(SafeTensorsFixtures.table, files: files).first)
      #expect(result.status == .ok && result.bits == bits, "\(name): \(result)")
      built += 1
    }
    #expect(built >= 1)
  }
}
