// The program exactly as the emitter lays it out: lowered, then planned with every kernel's scratch in the arena.
import KilnCodegenC
import KilnIR
import KilnPasses

extension Compilation {
  /// `graph` lowered at `options.maxBatch`, with each step's kernel scratch recorded and the arena planned as
  /// `generate` plans it (same kernels, same options), for `kiln plan` and the plan tests.
  public static func plannedProgram(_ graph: Graph, options: CompileOptions) throws -> Program {
    let program = try Lowering.lower(graph, maxBatch: options.maxBatch)
    return try ModuleEmitter.planScratch(program, options: options.kernelOptions).program
  }
}
