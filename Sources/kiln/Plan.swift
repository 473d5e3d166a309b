// `kiln plan NET.kiln`: show the static memory plan: each arena buffer's lifetime, offset and size, and the totals.
import ArgumentParser
import Foundation
import KilnDriver
import KilnPasses

struct Plan: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Show the memory plan: one row per arena buffer (first and last step, offset, size, in place), "
      + "then the lower bound, the arena, its efficiency and the size without sharing.")

  @Argument(help: "The network spec (.kiln).")
  var spec: String

  @Option(help: "The largest batch the plan is made for.")
  var batch: Int = 64

  @Flag(help: "Print the plan as JSON.")
  var json = false

  func validate() throws {
    guard batch >= 1 else { throw ValidationError("--batch must be at least 1") }
  }

  func run() throws {
    try failingClearly {
      let graph = try NetworkLoader.graph(path: spec)
      let program = try Lowering.lower(graph, maxBatch: batch)
      let report = PlanReport(program: program, plan: MemoryPlanner.plan(program))
      if json {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        print(String(decoding: try encoder.encode(report), as: UTF8.self))
      } else {
        print(report.renderTable(), terminator: "")
      }
    }
  }
}
