// `kiln check NET.kiln`: infer every shape, run the inference pipeline, and print the layer table, totals and memory.
import ArgumentParser
import Foundation
import KilnDriver
import KilnPasses

struct Check: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Check a network and print one row per layer: output shape, parameters, multiply-accumulates.",
    discussion: """
      The inference pass pipeline runs too (with the IR verifier in debug builds), so --print-after shows what \
      it does; the table describes the network as written.
      """)

  @Argument(help: "The network spec (.kiln).")
  var spec: String

  @Flag(help: "Print the summary as JSON.")
  var json = false

  @OptionGroup var passes: PassFlags

  func run() throws {
    let loaded = NetworkLoader.load(path: spec)
    try report(loaded.diagnostics)
    guard let graph = loaded.graph else { throw ExitCode(1) }
    _ = try failingClearly { try Compilation.optimize(graph, options: passes.options) }
    let summary = NetworkSummary(graph)
    if json {
      let encoder = JSONEncoder()
      encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
      print(String(decoding: try encoder.encode(summary), as: UTF8.self))
    } else {
      print(summary.renderTable(), terminator: "")
    }
  }
}
