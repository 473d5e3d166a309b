// <name>.h of a module built for training: its sizes and the training API (absent from other modules).
import KilnIR
import KilnPasses

extension HeaderWriter {
  /// The training sizes, after the inference ones; nothing for a module built without training.
  static func writeTrainingSizes(_ c: inout CPrinter, _ l: ModuleLayout) throws {
    guard let t = l.training else { return }
    let n = l.names
    let context = max(l.program.arenaFloats, t.program.arenaFloats) * 4
    c.line()
    c.comment("Training (kiln compile --train): one training step's arena, the optimizer state, the targets.")
    c.define(n.m("TRAIN_ARENA_BYTES"), "\(t.arenaBytes) /* forward, loss, backward and updates, planned together */")
    c.define(n.m("CTX_ARENA_BYTES"), "\(context) /* what a context allocates: the larger of the two arenas */")
    c.define(
      n.m("OPT_STATE_BYTES"), "\(t.optimizerStateFloats * 4) /* \(t.optimizerState.count) optimizer-state tensors */")
    c.define(n.m("TARGET_SIZE"), "\(try t.target().type.elementCount) /* \(try t.target().type) per sample */")
    if let classes = try t.classCount() { c.define(n.m("NUM_CLASSES"), "\(classes)") }
  }

  /// The training API, after the inference API; nothing for a module built without training.
  static func writeTrainingDeclarations(_ c: inout CPrinter, _ l: ModuleLayout) throws {
    guard let t = l.training else { return }
    let n = l.names
    let ctx = n.fn("ctx")
    let target = try t.targetCType()
    let inputs = t.program.inputs.count
    c.line()
    c.comment(
      """
      Training. Every call of train_step runs forward, loss, backward and every optimizer step on n samples,
      allocating nothing. targets holds n \(target == "int64_t" ? "class indices in 0..NUM_CLASSES-1" : "× TARGET_SIZE floats");
      *loss receives the batch's mean loss (before the update). The context's step counter t starts at 0; a step
      uses t + 1 (Adam's bias correction) and the dropout seed mix(seed + (t + 1) · 0x9E3779B97F4A7C15)
      (CounterRandom.stepSeed, SplitMix64's finalizer as mix), then t becomes t + 1.
      """)
    c.directive("#include <stdint.h>")
    c.directive("#ifndef KILN_STEP_INFO_DEFINED")
    c.directive("#define KILN_STEP_INFO_DEFINED")
    c.comment("What one training step passes its kernels: learning rate, step number t (from 1), dropout seed.")
    c.text(TrainingABI.stepInfoDeclaration)
    c.directive("#endif")
    c.comment(
      """
      The raw training step: params (PARAMS_BYTES, updated in place), opt_state (OPT_STATE_BYTES, updated in
      place) and arena (TRAIN_ARENA_BYTES) belong to the caller, 64-byte aligned; info gives lr, t and the seed.
      """)
    c.line(
      "int \(n.fn("train_step_raw"))(float *params, float *opt_state, void *arena, const kiln_step_info *info, const float *const inputs[\(inputs)], const \(target) *targets, int n, float *loss);"
    )
    if inputs == 1 {
      c.line(
        "int \(n.fn("train_step"))(\(ctx) *ctx, const float *input, const \(target) *targets, int n, float *loss);")
    }
    c.line(
      "int \(n.fn("train_step_all"))(\(ctx) *ctx, const float *const inputs[\(inputs)], const \(target) *targets, int n, float *loss);"
    )
    c.comment("The learning rate of the next steps (initially the spec's optimizer's); finite and >= 0.")
    c.line("int \(n.fn("set_lr"))(\(ctx) *ctx, float lr);")
    c.line("float \(n.fn("get_lr"))(const \(ctx) *ctx);")
    c.comment("The base seed of the dropout masks (initially the spec's seed).")
    c.line("int \(n.fn("set_seed"))(\(ctx) *ctx, uint64_t seed);")
    c.line("uint64_t \(n.fn("get_seed"))(const \(ctx) *ctx);")
    c.comment("How many training steps this context has taken (restored by load_checkpoint); negative on error.")
    c.line("int64_t \(n.fn("step_count"))(const \(ctx) *ctx);")
    c.comment("The params in use (PARAMS_BYTES, the tensor table's layout), or NULL before any are loaded.")
    c.line("const float *\(n.fn("params"))(const \(ctx) *ctx);")
    c.comment(
      """
      Text saved with every later checkpoint as __metadata__ kiln.note (a copy is kept; NULL removes it): kiln
      train keeps its schedule and early-stopping state there. load_checkpoint does not read it.
      """)
    c.line("int \(n.fn("set_checkpoint_note"))(\(ctx) *ctx, const char *text);")
    c.comment(
      """
      A checkpoint as safetensors: the weights (PyTorch's names), the optimizer state (<parameter>.<slot>, e.g.
      fc.weight.exp_avg) and __metadata__ kiln.step, kiln.lr, kiln.seed. save writes <path>.tmp and renames it
      over path; load_checkpoint restores all of it (nothing on failure), so training resumes bit for bit.
      """)
    c.line("int \(n.fn("save"))(\(ctx) *ctx, const char *path);")
    c.line("int \(n.fn("load_checkpoint"))(\(ctx) *ctx, const char *path);")
  }
}
