// `kiln profile NET.kiln`: the fused and unfused variants side by side, layer by layer, with per-step timers.
import ArgumentParser
import Foundation
import KilnDriver

struct Profile: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Time every kernel of the fused and the unfused variant of a network, grouped by fusion.",
    discussion: """
      Builds the network twice (the normal pipeline, and the same without fusion passes) with per-step timers
      compiled in (-DKILN_PROFILE; normal builds have none), loads the same weights into both, runs both on the
      same seeded input and prints one row per unfused layer under the fused kernel that replaced it, then the
      totals, the speed-up, both arenas and the largest difference between the two variants' outputs.
      Every time is the median of --reps runs after --warmup runs; the variants alternate.
      """)

  @Argument(help: "The network spec (.kiln).")
  var spec: String

  @Option(help: "Weights as safetensors (default: the spec's initializers, seeded).")
  var weights: String?

  @Option(help: "OpenMP threads (default: OpenMP's).")
  var threads: Int?

  @Option(help: "Timed runs of each variant.")
  var reps: Int = 20

  @Option(help: "Untimed runs of each variant before the timed ones.")
  var warmup: Int = 3

  @Option(help: "Seed of the initial weights and the input (default: the spec's, or 0).")
  var seed: UInt64?

  @Option(help: "Write the median runs as a Chrome trace (Perfetto, chrome://tracing).")
  var trace: String?

  @Option(help: "Write a bar chart of the layer groups, unfused against fused, as SVG.")
  var svg: String?

  @Flag(help: "Print the report as JSON (with min and max of every time) instead of the table.")
  var json = false

  @OptionGroup var build: BuildFlags

  @OptionGroup var passes: PassFlags

  func validate() throws {
    if let threads, threads < 1 { throw ValidationError("--threads must be at least 1") }
    guard reps >= 1 else { throw ValidationError("--reps must be at least 1") }
    guard warmup >= 0 else { throw ValidationError("--warmup must be at least 0") }
    guard !passes.noFuse else {
      throw ValidationError("--no-fuse: kiln profile always builds both the fused and the unfused variant")
    }
  }

  func run() throws {
    try failingClearly {
      let graph = try NetworkLoader.graph(path: spec)
      var options = ProfileOptions()
      options.compile = build.options
      options.compile.passes = passes.options
      options.batch = build.maxBatch
      options.threads = threads
      options.reps = reps
      options.warmup = warmup
      options.weightsPath = weights
      options.seed = seed
      let report = try Profiler.run(graph, specName: URL(fileURLWithPath: spec).lastPathComponent, options: options)
      if json {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        print(String(decoding: try encoder.encode(report), as: UTF8.self))
      } else {
        print(report.renderTable(), terminator: "")
      }
      if let trace {
        try report.writeTrace(to: trace)
        if !json { print("wrote the trace to \(trace)") }
      }
      if let svg {
        try report.barChart().write(to: svg)
        if !json { print("wrote the chart to \(svg)") }
      }
    }
  }
}
