// The programs exactly as the emitter lays them out: lowered, then planned with every kernel's scratch in the arena.
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

  /// The training pipeline run on `graph` (shape inference … autodiff, optimizer-step, with `options.passes`'
  /// disabled passes and printing), lowered to one training step at `options.maxBatch`.
  /// - Throws: `DiagnosticError` when the graph cannot be differentiated (e.g. it has no train section).
  public static func lowerTraining(_ graph: Graph, options: CompileOptions) throws -> Program {
    var passes = options.passes
    passes.mode = .training
    return try Lowering.lowerTraining(optimize(graph, options: passes), maxBatch: options.maxBatch)
  }

  /// The training step of `graph` planned as `generate` plans it for a module built with `--train` (same
  /// kernels, same options): `kiln plan --train` and the header's TRAIN_ARENA_BYTES.
  public static func plannedTrainingProgram(_ graph: Graph, options: CompileOptions) throws -> Program {
    try ModuleEmitter.planScratch(lowerTraining(graph, options: options), options: options.kernelOptions).program
  }
}
