// Options shared by the commands that generate and build C.
import ArgumentParser
import KilnDriver

struct BuildFlags: ParsableArguments {
  @Option(
    help: "The largest batch the compiled code accepts (default 64; for train: the batch size, default the spec's).")
  var batch: Int?

  @Flag(name: .customLong("no-blas"), help: "Use Kiln's own loops instead of OpenBLAS.")
  var noBLAS = false

  @Flag(
    name: .customLong("no-winograd"),
    help: "Compute 3×3 convolutions directly instead of by Winograd F(2×2, 3×3) (direct summation order, less scratch).")
  var noWinograd = false

  @Flag(help: "A generic build instead of -march=native.")
  var portable = false

  @Flag(name: .customLong("no-openmp"), help: "Build sequential code, without -fopenmp.")
  var noOpenMP = false

  @Option(name: .customLong("cc"), help: "The C compiler (default: CC, else the fastest found).")
  var compiler: String?

  func validate() throws {
    if let batch, batch < 1 { throw ValidationError("--batch must be at least 1") }
  }

  /// The largest batch of an inference module: `--batch`, else 64.
  var maxBatch: Int { batch ?? 64 }

  var options: CompileOptions {
    var o = CompileOptions()
    o.maxBatch = maxBatch
    o.blas = !noBLAS
    o.winograd = !noWinograd
    o.portable = portable
    o.openMP = !noOpenMP
    o.compiler = compiler
    return o
  }
}
