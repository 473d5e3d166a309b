// generated/ holds exactly what `kiln regenerate` writes, and the embedding example builds against it.
import Foundation
import KilnDriver
import KilnHarness
import KilnTestSupport
import Testing

@Suite(.serialized) struct GeneratedTests {
  @Test func generatedFolderIsUpToDate() throws {
    let expected = try Regeneration.expectedFiles(root: PackagePaths.root)
    #expect(!expected.isEmpty)
    var stale: [String] = []
    for f in expected {
      let onDisk = try? String(contentsOf: PackagePaths.root.appendingPathComponent(f.path), encoding: .utf8)
      if onDisk != f.text { stale.append(f.path) }
    }
    #expect(stale.isEmpty, "generated/ is stale (\(stale.joined(separator: ", "))): run `swift run kiln regenerate` and commit the result")
  }

  /// The generated C is warning-free under both compilers a user of this machine has (gcc 12 and Debian's
  /// clang 14, which warn about different things: clang alone flags `a | b ? x : y`), with and without OpenMP:
  /// every module in generated/ and three training modules, checked with -std=c11 -Wall -Wextra -Werror
  /// -fsyntax-only (the optimizing builds elsewhere in the suite use gcc with -Werror; compiling all of these at
  /// -O2 twice per compiler took 5 minutes).
  @Test(arguments: ["gcc", "clang-14"]) func generatedCIsWarningFree(_ compilerName: String) throws {
    let path = ProcessInfo.processInfo.environment["PATH"]
    let compiler = try #require(
      try? CCompiler.probe(command: compilerName, searchPath: path).get(),
      "\(compilerName) is missing: run scripts/setup (it installs gcc and clang)")
    let blas = try OpenBLAS.detect(for: compiler)
    let dir = try PackagePaths.temporaryDirectory("kiln-warnings-\(compilerName)")
    var sources = try Regeneration.expectedFiles(root: PackagePaths.root).filter { $0.path.hasSuffix(".c") }
      .map { PackagePaths.root.appendingPathComponent($0.path) }
    for network in ["lenet5", "vgg_bn", "resnet_block"] {
      var options = CompileOptions()
      options.training = true
      options.maxBatch = 8
      let graph = try NetworkLoader.graph(path: PackagePaths.examples.appendingPathComponent("\(network).kiln").path)
      let module = try Compilation.generate(graph, specName: "\(network).kiln", options: options, writeWeightsFile: false) {
        try ParameterSource.parameters(for: graph, weightsPath: nil, seed: 1)
      }
      sources += try Compilation.write(module, to: dir.appendingPathComponent(network)).filter { $0.pathExtension == "c" }
    }
    #expect(sources.count >= 10)
    for source in sources {
      for openMP in [true, false] {
        let flags =
          ["-std=c11", "-Wall", "-Wextra", "-Werror", "-fsyntax-only", "-march=native"] + (openMP ? ["-fopenmp"] : [])
          + blas.includeDirs.map { "-I\($0)" } + ["-I", source.deletingLastPathComponent().path, source.path]
        let result = try runProcess(compiler.path, arguments: compiler.extraFlags + flags)
        #expect(
          result.status == 0,
          "\(compilerName) \(openMP ? "with" : "without") OpenMP: \(source.lastPathComponent)\n\(result.stderr.prefix(2000))")
      }
    }
  }

  @Test func embeddingExampleBuildsWithMakeAndRuns() throws {
    let dir = try PackagePaths.temporaryDirectory("kiln-embed")
    let source = PackagePaths.root.appendingPathComponent("examples/embed")
    for file in ["main.c", "Makefile"] {
      try FileManager.default.copyItem(at: source.appendingPathComponent(file), to: dir.appendingPathComponent(file))
    }
    let generated = PackagePaths.root.appendingPathComponent("generated/lenet5").path
    let make = try runProcess("make", arguments: ["-C", dir.path, "GEN=\(generated)", "CC=gcc", "run"])
    #expect(make.status == 0, "\(make.stdout)\n\(make.stderr)")
    #expect(make.stdout.contains("image 0 logits:"))
    #expect(make.stdout.contains("batch 65: the batch size is larger than the context's maximum"))
    #expect(make.stdout.contains("NULL input: a required argument is NULL"))
    #expect(make.stdout.contains("missing weights file: a file could not be opened or read"))
  }
}
