// The convenience layer of a generated module: contexts, weight loading, threads, error strings.
import KilnPasses

extension SourceWriter {
  static func writeAPI(_ c: inout CPrinter, _ l: ModuleLayout) {
    let p = l.program
    let n = l.names
    let ctx = n.fn("ctx")
    c.comment("Memory sizes rounded up to whole 64-byte lines, as aligned_alloc requires.")
    c.line("static size_t \(n.fn("round64"))(size_t bytes) { return bytes == 0 ? 64 : (bytes + 63) / 64 * 64; }")
    c.line()
    c.function("const float *\(n.fn("embedded_params"))(void)") { c in
      c.line(l.placement == .embedded ? "return \(n.fn("weights"));" : "return NULL;")
    }
    c.block("struct \(ctx)", tail: ";") { c in
      c.line("float *arena;        /* ARENA_BYTES, 64-byte aligned */")
      c.line("float *owned_params; /* weights loaded from a file, or NULL */")
      c.line("const float *params; /* the weights in use; NULL until some are loaded */")
      c.line("int threads;         /* 0: OpenMP's default */")
      c.line("char detail[256];    /* the last failure, in words */")
      writeTrainingFields(&c, l)
      writeProfileFields(&c, l)
    }
    c.line()
    c.function("\(ctx) *\(n.fn("create"))(void)") { c in
      c.line("\(ctx) *ctx = (\(ctx) *)calloc(1, sizeof *ctx);")
      c.line("if (!ctx) return NULL;")
      let arenaBytes = n.m(l.training == nil ? "ARENA_BYTES" : "CTX_ARENA_BYTES")
      c.line("ctx->arena = (float *)aligned_alloc(64, \(n.fn("round64"))(\(arenaBytes)));")
      c.block("if (!ctx->arena)") { c in
        c.line("free(ctx);")
        c.line("return NULL;")
      }
      if l.placement == .embedded {
        c.line("ctx->params = \(n.fn("weights"));")
      } else if p.parameterFloats == 0 {
        c.line("static const float none[1] = {0.0f};")
        c.line("ctx->params = none;")
      }
      writeTrainingCreate(&c, l)
      if l.usesBLAS {
        c.comment("Kernels parallelize over images with OpenMP; each OpenBLAS call runs on one thread.")
        c.line("openblas_set_num_threads(1);")
      }
      c.comment("Start the OpenMP thread pool now rather than in the first inference (about 1 ms).")
      c.directive("#ifdef _OPENMP")
      c.line("#pragma omp parallel")
      c.line("{")
      c.line("}")
      c.directive("#endif")
      c.line("return ctx;")
    }
    c.function("void \(n.fn("destroy"))(\(ctx) *ctx)") { c in
      c.line("if (!ctx) return;")
      c.line("free(ctx->owned_params);")
      if l.training != nil {
        c.line("free(ctx->opt_state);")
        c.line("free(ctx->note);")
      }
      c.line("free(ctx->arena);")
      c.line("free(ctx);")
    }
    if p.folds.isEmpty {
      writeLoader(
        &c, l, function: "load_weights", argument: "safetensors_path",
        call: "kiln_rt_load_safetensors(safetensors_path, \(n.fn("tensors")), \(n.m("TENSOR_COUNT")), staging, ctx->detail, sizeof ctx->detail)")
    } else {
      writePreparingLoader(&c, l)
    }
    writeLoader(
      &c, l, function: "load_weights_file", argument: "path",
      call: "kiln_rt_load_weights_file(path, \"\(p.name)\", \(WeightsFile.fingerprint(of: p.parameters.map(\.spec)))ULL, staging, \(p.parameterFloats)L, ctx->detail, sizeof ctx->detail)")
    c.function(
      "int \(n.fn("infer_all"))(\(ctx) *ctx, const float *const inputs[\(p.inputs.count)], int n, float *const outputs[\(p.outputs.count)])"
    ) { c in
      c.line("if (!ctx) return KILN_ERR_NULL_ARGUMENT;")
      c.block("if (!ctx->params)") { c in
        c.line("snprintf(ctx->detail, sizeof ctx->detail, \"no weights are loaded: call \(n.fn("load_weights_file")) or \(n.fn("load_weights")) first\");")
        c.line("return KILN_ERR_NO_WEIGHTS;")
      }
      c.directive("#ifdef _OPENMP")
      c.line("if (ctx->threads > 0) omp_set_num_threads(ctx->threads);")
      c.directive("#endif")
      c.line("int rc = \(n.fn("forward_all"))(ctx->params, ctx->arena, inputs, outputs, n);")
      c.line("if (rc == KILN_ERR_BAD_BATCH || rc == KILN_ERR_BATCH_TOO_LARGE)")
      c.line("  snprintf(ctx->detail, sizeof ctx->detail, \"batch %d is outside 1...%d, the compiled maximum\", n, \(n.m("MAX_BATCH")));")
      c.line("else if (rc == KILN_ERR_NULL_ARGUMENT)")
      c.line("  snprintf(ctx->detail, sizeof ctx->detail, \"an input or output pointer is NULL\");")
      c.line("else")
      c.line("  ctx->detail[0] = '\\0';")
      writeProfileCopy(&c)
      c.line("return rc;")
    }
    if p.inputs.count == 1 && p.outputs.count == 1 {
      c.function("int \(n.fn("infer"))(\(ctx) *ctx, const float *input, int n, float *output)") { c in
        c.line("const float *inputs[1] = {input};")
        c.line("float *outputs[1] = {output};")
        c.line("return \(n.fn("infer_all"))(ctx, inputs, n, outputs);")
      }
    }
    c.function("int \(n.fn("set_threads"))(\(ctx) *ctx, int threads)") { c in
      c.line("if (!ctx) return KILN_ERR_NULL_ARGUMENT;")
      c.line("if (threads < 1) return KILN_ERR_INVALID_ARGUMENT;")
      c.line("ctx->threads = threads;")
      c.line("return KILN_OK;")
    }
    writeProfileAPI(&c, l)
    c.function("const char *\(n.fn("strerror"))(int code)") { c in
      c.line("return kiln_rt_strerror(code);")
    }
    c.function("const char *\(n.fn("last_error"))(const \(ctx) *ctx)") { c in
      c.line("return ctx ? ctx->detail : \"no context\";")
    }
  }

  /// A loader: reads into a fresh buffer, and swaps it in only when every tensor checked out.
  static func writeLoader(_ c: inout CPrinter, _ l: ModuleLayout, function: String, argument: String, call: String) {
    let n = l.names
    c.function("int \(n.fn(function))(\(n.fn("ctx")) *ctx, const char *\(argument))") { c in
      c.line("if (!ctx || !\(argument)) return KILN_ERR_NULL_ARGUMENT;")
      c.line("float *staging = (float *)aligned_alloc(64, \(n.fn("round64"))(\(n.m("PARAMS_BYTES"))));")
      c.block("if (!staging)") { c in
        c.line("snprintf(ctx->detail, sizeof ctx->detail, \"cannot allocate %ld bytes for weights\", (long)\(n.m("PARAMS_BYTES")));")
        c.line("return KILN_ERR_OUT_OF_MEMORY;")
      }
      c.line("memset(staging, 0, \(n.fn("round64"))(\(n.m("PARAMS_BYTES"))));")
      c.line("int rc = \(call);")
      c.block("if (rc != KILN_OK)") { c in
        c.line("free(staging);")
        c.line("return rc;")
      }
      c.line("free(ctx->owned_params);")
      c.line("ctx->owned_params = staging;")
      c.line("ctx->params = staging;")
      c.line("ctx->detail[0] = '\\0';")
      c.line("return KILN_OK;")
    }
  }

  /// The safetensors loader of a module with folded batch norms: the file's (unfolded) tensors go into a
  /// source staging buffer, `<name>_prepare` folds them into a fresh params buffer, which is swapped in.
  static func writePreparingLoader(_ c: inout CPrinter, _ l: ModuleLayout) {
    let n = l.names
    c.function("int \(n.fn("load_weights"))(\(n.fn("ctx")) *ctx, const char *safetensors_path)") { c in
      c.line("if (!ctx || !safetensors_path) return KILN_ERR_NULL_ARGUMENT;")
      c.line("float *source = (float *)aligned_alloc(64, \(n.fn("round64"))(\(n.m("SOURCE_BYTES"))));")
      c.line("float *staging = (float *)aligned_alloc(64, \(n.fn("round64"))(\(n.m("PARAMS_BYTES"))));")
      c.block("if (!source || !staging)") { c in
        c.line("free(source);")
        c.line("free(staging);")
        c.line("snprintf(ctx->detail, sizeof ctx->detail, \"cannot allocate %ld bytes for weights\", (long)(\(n.m("SOURCE_BYTES")) + \(n.m("PARAMS_BYTES"))));")
        c.line("return KILN_ERR_OUT_OF_MEMORY;")
      }
      c.line("memset(source, 0, \(n.fn("round64"))(\(n.m("SOURCE_BYTES"))));")
      c.line("memset(staging, 0, \(n.fn("round64"))(\(n.m("PARAMS_BYTES"))));")
      c.line("int rc = kiln_rt_load_safetensors(safetensors_path, \(n.fn("tensors")), \(n.m("TENSOR_COUNT")), source, ctx->detail, sizeof ctx->detail);")
      c.block("if (rc != KILN_OK)") { c in
        c.line("free(source);")
        c.line("free(staging);")
        c.line("return rc;")
      }
      c.line("\(n.fn("prepare"))(source, staging);")
      c.line("free(source);")
      c.line("free(ctx->owned_params);")
      c.line("ctx->owned_params = staging;")
      c.line("ctx->params = staging;")
      c.line("ctx->detail[0] = '\\0';")
      c.line("return KILN_OK;")
    }
  }
}
