// `kiln check NET.kiln`: infer every shape and print the layer table, totals and memory.
import ArgumentParser
import Foundation
import KilnDriver
import KilnPasses

struct Check: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Check a network and print one row per layer: output shape, parameters, multiply-accumulates.")

  @Argument(help: "The network spec (.kiln).")
  var spec: String

  @Flag(help: "Print the summary as JSON.")
  var json = false

  func run() throws {
    let loaded = NetworkLoader.load(path: spec)
    try report(loaded.diagnostics)
    guard let graph = loaded.graph else { throw ExitCode(1) }
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
