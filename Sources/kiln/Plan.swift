// `kiln plan NET.kiln`: show the static memory plan: each arena buffer's and kernel scratch's region, and the totals.
import ArgumentParser
import Foundation
import KilnDriver
import KilnPasses

struct Plan: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Show the memory plan `kiln compile` uses: one row per arena buffer and per kernel's scratch "
      + "(first and last step, offset, size, in place), then the lower bound, the arena, its efficiency and the "
      + "size without sharing.")

  @Argument(help: "The network spec (.kiln).")
  var spec: String

  @Option(help: "The largest batch the plan is made for.")
  var batch: Int = 64

  @Flag(name: .customLong("no-blas"), help: "Plan for Kiln's own loops instead of OpenBLAS (kernel scratch differs).")
  var noBLAS = false

  @Flag(
    name: .customLong("no-winograd"), help: "Plan for direct 3×3 convolutions instead of Winograd (less scratch).")
  var noWinograd = false

  @Flag(help: "Print the plan as JSON.")
  var json = false

  @Flag(help: "Plan one training step (forward, loss, backward, optimizer updates) instead of inference.")
  var train = false

  func validate() throws {
    guard batch >= 1 else { throw ValidationError("--batch must be at least 1") }
  }

  func run() throws {
    try failingClearly {
      let graph = try NetworkLoader.graph(path: spec)
      var options = CompileOptions()
      options.maxBatch = batch
      options.blas = !noBLAS
      options.winograd = !noWinograd
      let program =
        train
        ? try Compilation.plannedTrainingProgram(graph, options: options)
        : try Compilation.plannedProgram(graph, options: options)
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
