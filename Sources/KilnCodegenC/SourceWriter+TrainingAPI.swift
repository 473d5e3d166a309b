// The training half of a module's convenience layer: train_step, the learning rate, the seed, checkpoints.
import KilnIR
import KilnPasses

extension SourceWriter {
  /// Every training function of the context API; nothing for a module built without training.
  static func writeTrainingAPI(_ c: inout CPrinter, _ l: ModuleLayout) throws {
    guard let t = l.training else { return }
    try writeTrainStepAPI(&c, l, t)
    writeTrainingAccessors(&c, l)
    writeSave(&c, l)
    writeLoadCheckpoint(&c, l)
  }

  /// `<name>_train_step_all` (and `<name>_train_step` for one input): checks every argument with a message,
  /// runs the raw step with this step's info, and counts the step when it succeeded.
  static func writeTrainStepAPI(_ c: inout CPrinter, _ l: ModuleLayout, _ t: TrainingModule) throws {
    let n = l.names
    let ctx = n.fn("ctx")
    let target = try t.targetCType()
    let inputs = t.program.inputs.count
    let classes = try t.classCount()
    c.function(
      "int \(n.fn("train_step_all"))(\(ctx) *ctx, const float *const inputs[\(inputs)], const \(target) *targets, int n, float *loss)"
    ) { c in
      c.line("if (!ctx) return KILN_ERR_NULL_ARGUMENT;")
      c.block("if (!ctx->owned_params)") { c in
        c.line(
          "snprintf(ctx->detail, sizeof ctx->detail, \"no weights are loaded: call \(n.fn("load_weights_file")), \(n.fn("load_weights")) or \(n.fn("load_checkpoint")) first\");"
        )
        c.line("return KILN_ERR_NO_WEIGHTS;")
      }
      let inputChecks = (0..<inputs).map { " || !inputs[\($0)]" }.joined()
      c.block("if (!inputs || !targets || !loss\(inputChecks))") { c in
        c.line("snprintf(ctx->detail, sizeof ctx->detail, \"an input, the targets or the loss pointer is NULL\");")
        c.line("return KILN_ERR_NULL_ARGUMENT;")
      }
      c.block("if (n < 1 || n > \(n.m("MAX_BATCH")))") { c in
        c.line(
          "snprintf(ctx->detail, sizeof ctx->detail, \"batch %d is outside 1...%d, the compiled maximum\", n, \(n.m("MAX_BATCH")));"
        )
        c.line("return n < 1 ? KILN_ERR_BAD_BATCH : KILN_ERR_BATCH_TOO_LARGE;")
      }
      // Batch statistics need more than one value per channel (BatchNorm.needsTwoSamples); with one, the step
      // would write NaN into the running statistics.
      let loneValue = t.program.steps.first { step in
        guard case .batchNorm = step.op, let input = step.inputTypes.first else { return false }
        return BatchNorm.needsTwoSamples(input: input)
      }
      if let loneValue {
        c.block("if (n < 2)") { c in
          c.line(
            "snprintf(ctx->detail, sizeof ctx->detail, \"batch norm '\(loneValue.layer)' has one value per channel at batch 1: training needs a batch of at least 2\");"
          )
          c.line("return KILN_ERR_BAD_BATCH;")
        }
      }
      if let classes {
        c.line("long bad = \(n.fn("bad_target"))(targets, n);")
        c.block("if (bad >= 0)") { c in
          c.line(
            "snprintf(ctx->detail, sizeof ctx->detail, \"target %lld of sample %ld is not a class index in 0...\(classes - 1)\", (long long)targets[bad], bad);"
          )
          c.line("return KILN_ERR_INVALID_ARGUMENT;")
        }
      }
      c.comment("This step is t + 1; its dropout seed is CounterRandom.stepSeed(base: seed, step: t + 1).")
      c.line("kiln_step_info info;")
      c.line("info.lr = ctx->lr;")
      c.line("info.step = ctx->step + 1;")
      c.line("info.seed = kiln_rt_step_seed(ctx->seed, info.step);")
      c.directive("#ifdef _OPENMP")
      c.line("if (ctx->threads > 0) omp_set_num_threads(ctx->threads);")
      c.directive("#endif")
      c.line(
        "int rc = \(n.fn("train_step_raw"))(ctx->owned_params, ctx->opt_state, ctx->arena, &info, inputs, targets, n, loss);"
      )
      c.block("if (rc != KILN_OK)") { c in
        c.line("snprintf(ctx->detail, sizeof ctx->detail, \"training step %lld failed\", (long long)info.step);")
        c.line("return rc;")
      }
      c.line("ctx->step = info.step;")
      c.line("ctx->detail[0] = '\\0';")
      c.line("return KILN_OK;")
    }
    if inputs == 1 {
      c.function(
        "int \(n.fn("train_step"))(\(ctx) *ctx, const float *input, const \(target) *targets, int n, float *loss)"
      ) { c in
        c.line("const float *inputs[1] = {input};")
        c.line("return \(n.fn("train_step_all"))(ctx, inputs, targets, n, loss);")
      }
    }
  }

  /// The learning rate, the seed, the step count and the params.
  static func writeTrainingAccessors(_ c: inout CPrinter, _ l: ModuleLayout) {
    let n = l.names
    let ctx = n.fn("ctx")
    c.function("int \(n.fn("set_lr"))(\(ctx) *ctx, float lr)") { c in
      c.line("if (!ctx) return KILN_ERR_NULL_ARGUMENT;")
      c.block("if (!isfinite(lr) || lr < 0.0f)") { c in
        c.line(
          "snprintf(ctx->detail, sizeof ctx->detail, \"learning rate %g is not a finite number >= 0\", (double)lr);")
        c.line("return KILN_ERR_INVALID_ARGUMENT;")
      }
      c.line("ctx->lr = lr;")
      c.line("return KILN_OK;")
    }
    c.function("float \(n.fn("get_lr"))(const \(ctx) *ctx)") { c in
      c.line("return ctx ? ctx->lr : NAN;")
    }
    c.function("int \(n.fn("set_seed"))(\(ctx) *ctx, uint64_t seed)") { c in
      c.line("if (!ctx) return KILN_ERR_NULL_ARGUMENT;")
      c.line("ctx->seed = seed;")
      c.line("return KILN_OK;")
    }
    c.function("uint64_t \(n.fn("get_seed"))(const \(ctx) *ctx)") { c in
      c.line("return ctx ? ctx->seed : 0;")
    }
    c.function("int64_t \(n.fn("step_count"))(const \(ctx) *ctx)") { c in
      c.line("return ctx ? ctx->step : KILN_ERR_NULL_ARGUMENT;")
    }
    c.function("const float *\(n.fn("params"))(const \(ctx) *ctx)") { c in
      c.line("return ctx ? ctx->params : NULL;")
    }
    c.function("int \(n.fn("set_checkpoint_note"))(\(ctx) *ctx, const char *text)") { c in
      c.line("if (!ctx) return KILN_ERR_NULL_ARGUMENT;")
      c.line("char *copy = NULL;")
      c.block("if (text)") { c in
        c.line("size_t length = strlen(text);")
        c.line("copy = (char *)malloc(length + 1);")
        c.block("if (!copy)") { c in
          c.line("snprintf(ctx->detail, sizeof ctx->detail, \"cannot allocate %zu bytes for the checkpoint note\", length + 1);")
          c.line("return KILN_ERR_OUT_OF_MEMORY;")
        }
        c.line("memcpy(copy, text, length + 1);")
      }
      c.line("free(ctx->note);")
      c.line("ctx->note = copy;")
      c.line("return KILN_OK;")
    }
  }

  /// `<name>_save`: params and opt_state staged in one buffer, written with the step, rate and seed.
  static func writeSave(_ c: inout CPrinter, _ l: ModuleLayout) {
    let n = l.names
    c.function("int \(n.fn("save"))(\(n.fn("ctx")) *ctx, const char *path)") { c in
      c.line("if (!ctx || !path) return KILN_ERR_NULL_ARGUMENT;")
      c.block("if (!ctx->owned_params)") { c in
        c.line("snprintf(ctx->detail, sizeof ctx->detail, \"no weights are loaded: there is nothing to save\");")
        c.line("return KILN_ERR_NO_WEIGHTS;")
      }
      c.line(
        "float *staging = (float *)aligned_alloc(64, \(n.fn("round64"))(\(n.m("PARAMS_BYTES")) + \(n.m("OPT_STATE_BYTES"))));"
      )
      c.block("if (!staging)") { c in
        c.line("snprintf(ctx->detail, sizeof ctx->detail, \"cannot allocate memory to stage the checkpoint\");")
        c.line("return KILN_ERR_OUT_OF_MEMORY;")
      }
      c.line("memcpy(staging, ctx->owned_params, \(n.m("PARAMS_BYTES")));")
      c.line("memcpy(staging + \(n.m("PARAMS_BYTES")) / 4, ctx->opt_state, \(n.m("OPT_STATE_BYTES")));")
      c.line("char step[32], lr[48], seed[32];")
      c.line("snprintf(step, sizeof step, \"%lld\", (long long)ctx->step);")
      c.comment("Hexadecimal, so the rate reads back exactly.")
      c.line("snprintf(lr, sizeof lr, \"%a\", (double)ctx->lr);")
      c.line("snprintf(seed, sizeof seed, \"%llu\", (unsigned long long)ctx->seed);")
      c.line("const char *const keys[6] = {\"format\", \"kiln.network\", \"kiln.step\", \"kiln.lr\", \"kiln.seed\", \"kiln.note\"};")
      c.line("const char *const values[6] = {\"pt\", \"\(l.program.name)\", step, lr, seed, ctx->note};")
      c.line(
        "int rc = kiln_rt_save_safetensors(path, \(n.fn("checkpoint_tensors")), \(n.m("CHECKPOINT_TENSORS")), staging, keys, values, ctx->note ? 6 : 5, ctx->detail, sizeof ctx->detail);"
      )
      c.line("free(staging);")
      c.line("return rc;")
    }
  }

  /// `<name>_load_checkpoint`: the metadata checked, every tensor loaded into a staging buffer, then swapped in
  /// with the step, rate and seed; on any failure the context is unchanged.
  static func writeLoadCheckpoint(_ c: inout CPrinter, _ l: ModuleLayout) {
    let n = l.names
    c.function("int \(n.fn("load_checkpoint"))(\(n.fn("ctx")) *ctx, const char *path)") { c in
      c.line("if (!ctx || !path) return KILN_ERR_NULL_ARGUMENT;")
      c.line("const char *const keys[4] = {\"kiln.network\", \"kiln.step\", \"kiln.lr\", \"kiln.seed\"};")
      c.line("char text[4][64];")
      c.line("char *const values[4] = {text[0], text[1], text[2], text[3]};")
      c.line(
        "int rc = kiln_rt_st_read_metadata(path, 4, keys, values, sizeof text[0], ctx->detail, sizeof ctx->detail);")
      c.line("if (rc != KILN_OK) return rc;")
      c.block("if (strcmp(text[0], \"\(l.program.name)\") != 0)") { c in
        c.line(
          "snprintf(ctx->detail, sizeof ctx->detail, \"'%s' is a checkpoint of network '%s', not '\(l.program.name)'\", path, text[0]);"
        )
        c.line("return KILN_ERR_WRONG_NETWORK;")
      }
      c.line("char *end[3];")
      c.line("errno = 0;")
      c.line("long long step = strtoll(text[1], &end[0], 10);")
      c.line("float lr = strtof(text[2], &end[1]);")
      c.line("unsigned long long seed = strtoull(text[3], &end[2], 10);")
      c.line(
        "int valid = errno == 0 && *end[0] == '\\0' && end[0] != text[1] && step >= 0 && *end[1] == '\\0' && end[1] != text[2] && isfinite(lr) && lr >= 0.0f && *end[2] == '\\0' && end[2] != text[3] && text[3][0] != '-';"
      )
      c.block("if (!valid)") { c in
        c.line(
          "snprintf(ctx->detail, sizeof ctx->detail, \"'%s' has a malformed kiln.step '%s', kiln.lr '%s' or kiln.seed '%s'\", path, text[1], text[2], text[3]);"
        )
        c.line("return KILN_ERR_FORMAT;")
      }
      c.line(
        "float *staging = (float *)aligned_alloc(64, \(n.fn("round64"))(\(n.m("PARAMS_BYTES")) + \(n.m("OPT_STATE_BYTES"))));"
      )
      c.line(
        "float *params = ctx->owned_params ? ctx->owned_params : (float *)aligned_alloc(64, \(n.fn("round64"))(\(n.m("PARAMS_BYTES"))));"
      )
      c.block("if (!staging || !params)") { c in
        c.line("free(staging);")
        c.line("if (params != ctx->owned_params) free(params);")
        c.line("snprintf(ctx->detail, sizeof ctx->detail, \"cannot allocate memory to load the checkpoint\");")
        c.line("return KILN_ERR_OUT_OF_MEMORY;")
      }
      c.line("memset(staging, 0, \(n.fn("round64"))(\(n.m("PARAMS_BYTES")) + \(n.m("OPT_STATE_BYTES"))));")
      c.line(
        "rc = kiln_rt_load_safetensors(path, \(n.fn("checkpoint_tensors")), \(n.m("CHECKPOINT_TENSORS")), staging, ctx->detail, sizeof ctx->detail);"
      )
      c.block("if (rc != KILN_OK)") { c in
        c.line("free(staging);")
        c.line("if (params != ctx->owned_params) free(params);")
        c.line("return rc;")
      }
      c.line("memcpy(params, staging, \(n.m("PARAMS_BYTES")));")
      c.line("memcpy(ctx->opt_state, staging + \(n.m("PARAMS_BYTES")) / 4, \(n.m("OPT_STATE_BYTES")));")
      c.line("free(staging);")
      c.line("ctx->owned_params = params;")
      c.line("ctx->params = params;")
      c.line("ctx->step = step;")
      c.line("ctx->lr = lr;")
      c.line("ctx->seed = seed;")
      c.line("ctx->detail[0] = '\\0';")
      c.line("return KILN_OK;")
    }
  }
}
