// The profiling build of a module (-DKILN_PROFILE): step timer storage, the context's copy, `<name>_profile`.
import KilnPasses

/// Everything here is emitted inside `#ifdef KILN_PROFILE` blocks, and the step brackets in the forward are macros
/// that expand to `((void)0)` without it (Templates/runtime/profile.c): a normal build compiles exactly the code it
/// would without profiling support.
extension SourceWriter {
  /// Entries of the per-step arrays: one per step (C has no zero-length arrays).
  static func profileSlots(_ p: Program) -> Int { max(p.steps.count, 1) }

  /// At the very top of `<name>.c`, before any header: a profiling build reads CLOCK_MONOTONIC, which strict C11
  /// (`-std=c11`) hides unless POSIX is asked for before the first system header.
  static func writeProfileFeatureMacro(_ c: inout CPrinter) {
    c.directive("#if defined(KILN_PROFILE) && !defined(_POSIX_C_SOURCE)")
    c.directive("#define _POSIX_C_SOURCE 200809L /* clock_gettime, for the step timers of a profiling build */")
    c.directive("#endif")
  }

  /// Before the forward: the thread-local step timestamps KILN_STEP_BEGIN/END write, and each step's kernel name.
  static func writeProfileStorage(_ c: inout CPrinter, _ l: ModuleLayout) {
    let p = l.program
    c.directive("#ifdef KILN_PROFILE")
    c.comment(
      "Profiling build: when each step of the last forward on this thread began and ended (ns), and its kernel.")
    c.line("static _Thread_local unsigned long long kiln_rt_step_begin[\(profileSlots(p))];")
    c.line("static _Thread_local unsigned long long kiln_rt_step_end[\(profileSlots(p))];")
    c.line("static const char *const \(l.names.fn("step_names"))[\(profileSlots(p))] = {")
    for step in p.steps { c.line("  \"\(step.kernelName)\",") }
    if p.steps.isEmpty { c.line("  \"\",") }
    c.line("};")
    c.directive("#endif")
    c.line()
  }

  /// The context's copy of its last run's step times (inside the context struct).
  static func writeProfileFields(_ c: inout CPrinter, _ l: ModuleLayout) {
    let slots = profileSlots(l.program)
    c.directive("#ifdef KILN_PROFILE")
    c.line("unsigned long long step_begin[\(slots)]; /* the last successful run's step starts, ns */")
    c.line("unsigned long long step_end[\(slots)];   /* and ends */")
    c.directive("#endif")
  }

  /// In `<name>_infer_all`, after a successful forward: keep this run's step times in the context.
  static func writeProfileCopy(_ c: inout CPrinter) {
    c.directive("#ifdef KILN_PROFILE")
    c.block("if (rc == KILN_OK)") { c in
      c.line("memcpy(ctx->step_begin, kiln_rt_step_begin, sizeof ctx->step_begin);")
      c.line("memcpy(ctx->step_end, kiln_rt_step_end, sizeof ctx->step_end);")
    }
    c.directive("#endif")
  }

  /// `int <name>_profile(ctx, start_ns, duration_ns, names, capacity)`: the step times of the context's last
  /// successful infer call; each array may be NULL, and at most `capacity` entries of each are written.
  static func writeProfileAPI(_ c: inout CPrinter, _ l: ModuleLayout) {
    let n = l.names
    c.directive("#ifdef KILN_PROFILE")
    c.function(
      "int \(n.fn("profile"))(const \(n.fn("ctx")) *ctx, unsigned long long *start_ns, unsigned long long *duration_ns, const char **names, int capacity)"
    ) { c in
      c.line("if (!ctx) return KILN_ERR_NULL_ARGUMENT;")
      c.line("if (capacity < 0) return KILN_ERR_INVALID_ARGUMENT;")
      c.line("const int steps = \(n.m("PROFILE_STEPS"));")
      c.block("for (int i = 0; i < steps && i < capacity; i++)") { c in
        c.line("if (start_ns) start_ns[i] = ctx->step_begin[i] - ctx->step_begin[0];")
        c.line("if (duration_ns) duration_ns[i] = ctx->step_end[i] - ctx->step_begin[i];")
        c.line("if (names) names[i] = \(n.fn("step_names"))[i];")
      }
      c.line("return steps;")
    }
    c.directive("#endif")
  }

  /// The bracketed call of step `index` (0-based) in the forward.
  static func timedCall(_ call: String, step index: Int) -> String {
    "KILN_STEP_BEGIN(\(index)); \(call) KILN_STEP_END(\(index));"
  }
}
