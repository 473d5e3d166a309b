// <name>.c of a module built for training: the training runtime, the raw train step, and the training API.
import Foundation
import KilnIR
import KilnPasses

extension SourceWriter {
  /// Before any header: the checkpoint writer flushes files to disk with fsync, which strict C11 hides unless
  /// POSIX is asked for.
  static func writeTrainingFeatureMacro(_ c: inout CPrinter, _ l: ModuleLayout) {
    guard l.training != nil else { return }
    c.directive("#ifndef _POSIX_C_SOURCE")
    c.directive("#define _POSIX_C_SOURCE 200809L /* fsync, for checkpoints written atomically */")
    c.directive("#endif")
  }

  /// The runtime files only training modules paste, and the checkpoint's tensor table.
  static func writeTrainingRuntime(_ c: inout CPrinter, _ l: ModuleLayout) throws {
    guard let t = l.training else { return }
    let n = l.names
    c.comment("The training runtime (Templates/runtime): checkpoints and per-step seeds.")
    for file in try RuntimeSource.training { c.text(file.text) }
    c.line()
    let params = l.program.parameterFloats
    var entries = l.program.sourceParameters.map { ($0.spec.name, $0.offset, $0.spec.dims) }
    entries += t.optimizerState.map { ($0.name, params + $0.offset, $0.dims) }
    entries.sort { $0.0 < $1.0 }
    c.comment(
      """
      A checkpoint's tensors, by name: the weights at their offsets in params, then the optimizer state at
      PARAMS_BYTES/4 + its offset in opt_state (save and load_checkpoint stage both in one buffer).
      """)
    c.line("static const kiln_rt_tensor \(n.fn("checkpoint_tensors"))[\(max(entries.count, 1))] = {")
    for (name, offset, dims) in entries {
      let shape = dims + [Int](repeating: 0, count: max(0, 4 - dims.count))
      c.line("  {\"\(name)\", \(offset), \(dims.count), {\(shape.map(String.init).joined(separator: ", "))}},")
    }
    if entries.isEmpty { c.line("  {\"\", 0, 0, {0, 0, 0, 0}},") }
    c.line("};")
    c.define(n.m("CHECKPOINT_TENSORS"), "\(entries.count)")
    c.line()
  }

  /// `<name>_train_step_raw`: checks its arguments, binds every buffer, then calls every kernel in order.
  static func writeTrainStep(_ c: inout CPrinter, _ l: ModuleLayout) throws {
    guard let t = l.training else { return }
    let p = t.program
    let n = l.names
    let target = try t.targetCType()
    let state = Dictionary(uniqueKeysWithValues: t.optimizerState.map { ($0.name, $0.offset) })
    var calls: [String] = []
    for (step, k) in zip(p.steps, t.kernels) {
      let args = try arguments(of: step, kernel: k, program: p, optimizerState: state)
      calls.append("\(k.name)(\(args.joined(separator: ", ")));")
    }
    let classes = try t.classCount()
    if let classes {
      c.comment("The first sample whose class label is outside 0..<\(classes), or -1.")
      c.function("static long \(n.fn("bad_target"))(const int64_t *targets, int n)") { c in
        c.line("for (long i = 0; i < n; i++) if (targets[i] < 0 || targets[i] >= \(classes)) return i;")
        c.line("return -1;")
      }
    }
    let roles = Set(t.kernels.flatMap { $0.parameters.map(\.role) })
    let used = Set(p.steps.flatMap { $0.inputs + [$0.output] })
    let declarations = try p.buffers.filter { used.contains($0.id) }.compactMap { try declaration(of: $0, program: p) }
    let signature =
      "int \(n.fn("train_step_raw"))(float *params, float *opt_state, void *arena_memory, const kiln_step_info *info, const float *const inputs[\(p.inputs.count)], const \(target) *targets, int n, float *loss)"
    c.function(signature) { c in
      c.line(
        "if (!params || !opt_state || !arena_memory || !info || !inputs || !targets || !loss) return KILN_ERR_NULL_ARGUMENT;"
      )
      for i in p.inputs.indices { c.line("if (!inputs[\(i)]) return KILN_ERR_NULL_ARGUMENT;") }
      c.line("if (n < 1) return KILN_ERR_BAD_BATCH;")
      c.line("if (n > \(n.m("MAX_BATCH"))) return KILN_ERR_BATCH_TOO_LARGE;")
      if classes != nil { c.line("if (\(n.fn("bad_target"))(targets, n) >= 0) return KILN_ERR_INVALID_ARGUMENT;") }
      if !roles.contains(.parameter) && !roles.contains(.updatedParameter) { c.line("(void)params;") }
      if !roles.contains(.optimizerState) { c.line("(void)opt_state;") }
      if !roles.contains(.stepInfo) { c.line("(void)info;") }
      c.line("float *arena = (float *)arena_memory;")
      if !p.buffers.contains(where: { $0.storage == .arena && used.contains($0.id) }) && !roles.contains(.scratch) {
        c.line("(void)arena;")
      }
      for declaration in declarations { c.line(declaration) }
      for call in calls { c.line(call) }
      c.line("return KILN_OK;")
    }
  }

  /// The argument of a training kernel's updated parameter (`params + <offset>`), optimizer-state slot
  /// (`opt_state + <offset>`) or step info (`info`).
  static func trainingArgument(
    _ param: KernelParameter, of k: KernelFunction, optimizerState: [String: Int], program p: Program
  ) throws -> String {
    switch param.role {
    case .updatedParameter:
      guard let slot = p.parameter(param.tensor ?? "") else {
        throw EmitError("kernel \(k.name) updates parameter '\(param.tensor ?? "")', which params do not hold")
      }
      return "params + \(slot.offset)"
    case .optimizerState:
      guard let offset = optimizerState[param.tensor ?? ""] else {
        throw EmitError("kernel \(k.name) keeps state '\(param.tensor ?? "")', which opt_state does not hold")
      }
      return "opt_state + \(offset)"
    case .stepInfo:
      return "info"
    case .input, .parameter, .output, .scratch:
      throw EmitError("kernel \(k.name): \(param.name) is not a training argument")
    }
  }

  /// The context's training state, in the context struct.
  static func writeTrainingFields(_ c: inout CPrinter, _ l: ModuleLayout) {
    guard l.training != nil else { return }
    c.line("float *opt_state;    /* OPT_STATE_BYTES of optimizer state, updated by every training step */")
    c.line("float lr;            /* the learning rate of the next step */")
    c.line("int64_t step;        /* training steps taken (t) */")
    c.line("uint64_t seed;       /* the base dropout seed */")
    c.line("char *note;          /* set_checkpoint_note's text, saved as kiln.note; NULL for none */")
  }

  /// Creating a training context: its own mutable params (a copy of embedded weights), fresh optimizer state,
  /// and the spec's learning rate and seed. Frees everything and returns NULL when memory is short.
  static func writeTrainingCreate(_ c: inout CPrinter, _ l: ModuleLayout) {
    guard let t = l.training else { return }
    let n = l.names
    c.line("ctx->opt_state = (float *)aligned_alloc(64, \(n.fn("round64"))(\(n.m("OPT_STATE_BYTES"))));")
    if l.placement == .embedded {
      c.line("ctx->owned_params = (float *)aligned_alloc(64, \(n.fn("round64"))(\(n.m("PARAMS_BYTES"))));")
    }
    c.block("if (!ctx->opt_state\(l.placement == .embedded ? " || !ctx->owned_params" : ""))") { c in
      c.line("free(ctx->opt_state);")
      c.line("free(ctx->owned_params);")
      c.line("free(ctx->arena);")
      c.line("free(ctx);")
      c.line("return NULL;")
    }
    if l.placement == .embedded {
      c.comment("Training writes the weights: the context trains a copy of the embedded ones.")
      c.line("memcpy(ctx->owned_params, \(n.fn("weights")), \(n.m("PARAMS_BYTES")));")
      c.line("ctx->params = ctx->owned_params;")
    }
    c.line("\(n.fn("reset_optimizer_state"))(ctx->opt_state);")
    let config = t.program.training
    c.line("ctx->lr = \(cFloat(config?.optimizer.learningRate ?? 0));")
    c.line("ctx->step = 0;")
    c.line("ctx->seed = \(config?.seed ?? 0)ULL;")
    c.line("ctx->note = NULL;")
  }

  /// `<name>_reset_optimizer_state`: every slot at its initial value, before the first step.
  static func writeOptimizerStateReset(_ c: inout CPrinter, _ l: ModuleLayout) {
    guard let t = l.training else { return }
    c.comment("Optimizer state before the first step: zeros, but NAdam's mu_product, which starts at 1 (as PyTorch's).")
    c.function("static void \(l.names.fn("reset_optimizer_state"))(float *opt_state)") { c in
      c.line("memset(opt_state, 0, \(l.names.m("OPT_STATE_BYTES")));")
      for slot in t.optimizerState where slot.initialValue != 0 {
        c.line(
          "for (long i = 0; i < \(slot.floats)L; i++) opt_state[\(slot.offset) + i] = \(cFloat(slot.initialValue)); /* \(slot.name) */"
        )
      }
      if t.optimizerState.isEmpty { c.line("(void)opt_state;") }
    }
  }
}
