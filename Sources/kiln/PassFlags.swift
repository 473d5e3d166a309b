// Options of the pass pipeline, shared by check, compile and run.
import ArgumentParser
import KilnDriver
import KilnPasses

struct PassFlags: ParsableArguments {
  @Option(
    name: .customLong("disable-pass"),
    help: ArgumentHelp(
      "Leave a pass out of the pipeline (repeatable).",
      discussion: "Passes: \(PassRegistry.names.joined(separator: ", ")). shape-inference cannot be disabled.",
      valueName: "name"))
  var disabledPasses: [String] = []

  @Option(
    name: .customLong("print-after"),
    help: ArgumentHelp(
      "Print the IR to standard output after a pass (repeatable; 'all' for every pass).", valueName: "name"))
  var printAfter: [String] = []

  @Flag(
    name: .customLong("no-fuse"),
    help: "Disable every fusion pass (fold-batchnorm, fuse-epilogues): one kernel per layer as written, e.g. to profile.")
  var noFuse = false

  func validate() throws {
    do {
      _ = try Pipeline(options: options)
    } catch {
      throw ValidationError(error.description)
    }
  }

  var options: PassOptions {
    var o = PassOptions()
    o.disabled = disabledPasses
    o.printAfter = printAfter
    o.fuse = !noFuse
    return o
  }
}
