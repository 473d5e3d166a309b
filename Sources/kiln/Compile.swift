// `kiln compile NET.kiln -o DIR`: write <name>.h and <name>.c (and <name>.weights), and build lib<name>.so.
import ArgumentParser
import Foundation
import KilnData
import KilnDriver
import KilnPasses

struct Compile: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Generate specialized C for a network and build it into a shared library.")

  @Argument(help: "The network spec (.kiln).")
  var spec: String

  @Option(name: .shortAndLong, help: "The folder to write into.")
  var output: String

  @Option(help: "Weights to compile in, as safetensors (default: initialized from the spec).")
  var weights: String?

  @Option(help: "Random seed for initialized weights (default: the spec's, or 0).")
  var seed: UInt64?

  @Flag(name: .customLong("no-build"), help: "Write the C only.")
  var noBuild = false

  @Flag(help: "Also generate <name>_train_step (forward, loss, backward and the optimizer step of the spec's train section), optimizer state and checkpoints.")
  var train = false

  @OptionGroup var build: BuildFlags

  @OptionGroup var passes: PassFlags

  func run() throws {
    try failingClearly {
      let graph = try NetworkLoader.graph(path: spec)
      let started = Date()
      var options = build.options
      options.passes = passes.options
      options.training = train
      let module = try Compilation.generate(graph, specName: URL(fileURLWithPath: spec).lastPathComponent, options: options) {
        try ParameterSource.parameters(for: graph, weightsPath: weights, seed: seed ?? ParameterSource.defaultSeed(for: graph))
      }
      let dir = URL(fileURLWithPath: output)
      let files = try Compilation.write(module, to: dir)
      for f in files { print("wrote \(f.path) (\(grouped(fileSize(f))) bytes)") }
      print("arena \(grouped(module.arenaBytes)) bytes at batch \(module.program.maxBatch); weights \(module.placement == .embedded ? "embedded" : "in \(module.name).weights")")
      if let t = module.training {
        print("training arena \(grouped(t.arenaBytes)) bytes; optimizer state \(grouped(t.optimizerStateFloats * 4)) bytes")
      }
      guard !noBuild else { return }
      let result = try Compilation.build(module, in: dir, options: options)
      let library = dir.appendingPathComponent("lib\(module.name).so")
      try AtomicFile.write(try Data(contentsOf: result.url), to: library.path)
      let how = result.cacheHit ? "cached build" : "compiled in \(String(format: "%.2f", result.compileSeconds)) s"
      print("built \(library.path) (\(how); \(String(format: "%.2f", Date().timeIntervalSince(started))) s in all)")
    }
  }
}

func fileSize(_ url: URL) -> Int {
  ((try? FileManager.default.attributesOfItem(atPath: url.path))?[.size] as? Int) ?? 0
}

