// `kiln bench NET.kiln`: size of the generated C, compile time, and median inference time beside the interpreter.
import ArgumentParser
import Foundation
import KilnDriver

struct Bench: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Time a network's generated C (and the interpreter) at given batches.",
    discussion: "Medians after 3 warm-up calls. Compare ratios from one run: these machines are noisy.")

  @Argument(help: "The network spec (.kiln).")
  var spec: String

  @Option(name: .customLong("at"), help: "A batch to time (repeatable; default 1 and 64).")
  var batches: [Int] = []

  @Option(help: "Timed calls of the generated C per batch.")
  var reps: Int = 50

  @Option(help: "Timed interpreter runs per batch (0 to skip).")
  var interpreterReps: Int = 3

  @Option(help: "OpenMP threads (default: OpenMP's).")
  var threads: Int?

  @Flag(help: "Print one tab-separated line instead of a table.")
  var tsv = false

  @OptionGroup var build: BuildFlags

  @OptionGroup var passes: PassFlags

  func run() throws {
    try failingClearly {
      let graph = try NetworkLoader.graph(path: spec)
      let at = batches.isEmpty ? [1, 64] : batches
      var options = build.options
      options.passes = passes.options
      let r = try Benchmark.run(
        graph, specName: URL(fileURLWithPath: spec).lastPathComponent, options: options, batches: at, reps: reps,
        interpreterReps: interpreterReps, threads: threads)
      func us(_ s: Double?) -> String { s.map { String(format: "%.1f", $0 * 1e6) } ?? "-" }
      if tsv {
        let cols = [r.network, r.compiler, "\(r.sourceBytes)", String(format: "%.3f", r.compileSeconds)]
          + at.flatMap { [us(r.c[$0]), us(r.interpreter[$0])] }
        print(cols.joined(separator: "\t"))
        return
      }
      print("network \(r.network), compiled by \(r.compiler)")
      print("generated C: \(r.sourceBytes) bytes of .c, \(r.headerBytes) of .h; emitted in \(String(format: "%.3f", r.generateSeconds)) s, compiled in \(String(format: "%.2f", r.compileSeconds)) s")
      func pad(_ s: String, _ w: Int) -> String { String(repeating: " ", count: max(0, w - s.count)) + s }
      print("batch  C median µs  interpreter median µs  speed-up")
      for n in at {
        let speedup = (r.interpreter[n] ?? .nan) / (r.c[n] ?? .nan)
        let ratio = speedup.isNaN ? "-" : String(format: "%.0f×", speedup)
        print([pad("\(n)", 5), pad(us(r.c[n]), 11), pad(us(r.interpreter[n]), 21), pad(ratio, 8)].joined(separator: "  "))
      }
    }
  }
}
