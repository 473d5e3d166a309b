// Training modules under AddressSanitizer and UndefinedBehaviorSanitizer, -Wall -Wextra -Werror, driven by C.
import Foundation
import KilnCodegenC
import KilnData
import KilnDriver
import KilnHarness
import KilnIR
import KilnTestSupport
import Testing

@Suite(.serialized) struct TrainingSanitizerTests {
  /// A C driver exercising the whole training API: every batch, inference after training, the learning rate,
  /// each bad call, a checkpoint saved, loaded into a second context and resumed identically.
  static func driver(_ module: GeneratedModule) throws -> String {
    let p = module.program
    let n = p.name
    let m = n.uppercased()
    let t = try #require(module.training)
    var c = CPrinter()
    for h in ["math.h", "stdio.h", "stdlib.h", "stdint.h", "string.h"] { c.directive("#include <\(h)>") }
    c.directive("#include \"\(n).h\"")
    c.function("int main(int argc, char **argv)") { c in
      c.line("if (argc != 2) return 1;")
      c.line("\(n)_ctx *ctx = \(n)_create();")
      c.line("\(n)_ctx *other = \(n)_create();")
      c.line("if (!ctx || !other) return 2;")
      c.line("if (\(n)_set_threads(ctx, 2) != KILN_OK) return 3;")
      for (i, v) in p.inputs.enumerated() {
        c.line("float *in\(i) = malloc(sizeof(float) * \(m)_MAX_BATCH * \(v.type.elementCount));")
        c.line(
          "for (long k = 0; k < (long)\(m)_MAX_BATCH * \(v.type.elementCount); k++) in\(i)[k] = (float)((k * 7919) % 200 - 100) / 50.0f;"
        )
      }
      c.line("const float *ins[\(p.inputs.count)] = {\(p.inputs.indices.map { "in\($0)" }.joined(separator: ", "))};")
      c.line("float *out0 = malloc(sizeof(float) * \(m)_MAX_BATCH * \(p.outputs[0].type.elementCount));")
      c.line("float *outs[1] = {out0};")
      c.line("int64_t *labels = malloc(sizeof(int64_t) * \(m)_MAX_BATCH);")
      c.line("for (long k = 0; k < \(m)_MAX_BATCH; k++) labels[k] = k % \(m)_NUM_CLASSES;")
      c.line("float loss = 0.0f, resumed = 0.0f;")
      c.block("for (int b = 1; b <= \(m)_MAX_BATCH; b++)") { c in
        c.line("int rc = \(n)_train_step_all(ctx, ins, labels, b, &loss);")
        c.line(
          "if (rc != KILN_OK) { printf(\"batch %d: %s: %s\\n\", b, \(n)_strerror(rc), \(n)_last_error(ctx)); return 4; }"
        )
        c.line("if (!isfinite(loss)) return 5;")
      }
      c.line("if (\(n)_infer_all(ctx, ins, \(m)_MAX_BATCH, outs) != KILN_OK) return 6;")
      c.line("if (\(n)_set_lr(ctx, 0.005f) != KILN_OK || \(n)_get_lr(ctx) != 0.005f) return 7;")
      c.line("if (\(n)_set_lr(ctx, NAN) != KILN_ERR_INVALID_ARGUMENT) return 8;")
      c.line("labels[0] = \(m)_NUM_CLASSES;")
      c.line("if (\(n)_train_step_all(ctx, ins, labels, 1, &loss) != KILN_ERR_INVALID_ARGUMENT) return 9;")
      c.line("labels[0] = 0;")
      c.line(
        "if (\(n)_train_step_all(ctx, ins, labels, \(m)_MAX_BATCH + 1, &loss) != KILN_ERR_BATCH_TOO_LARGE) return 10;")
      c.line("if (\(n)_train_step_all(ctx, ins, labels, 0, &loss) != KILN_ERR_BAD_BATCH) return 11;")
      c.line("if (\(n)_train_step_all(ctx, NULL, labels, 1, &loss) != KILN_ERR_NULL_ARGUMENT) return 12;")
      c.line("if (\(n)_train_step_all(ctx, ins, labels, 1, NULL) != KILN_ERR_NULL_ARGUMENT) return 13;")
      c.line("if (\(n)_train_step_all(NULL, ins, labels, 1, &loss) != KILN_ERR_NULL_ARGUMENT) return 14;")
      c.line("if (\(n)_save(ctx, argv[1]) != KILN_OK) { printf(\"save: %s\\n\", \(n)_last_error(ctx)); return 15; }")
      c.line(
        "if (\(n)_load_checkpoint(other, argv[1]) != KILN_OK) { printf(\"load: %s\\n\", \(n)_last_error(other)); return 16; }"
      )
      c.line("if (\(n)_step_count(other) != \(n)_step_count(ctx) || \(n)_get_lr(other) != 0.005f) return 17;")
      c.line("if (\(n)_train_step_all(ctx, ins, labels, 2, &loss) != KILN_OK) return 18;")
      c.line("if (\(n)_train_step_all(other, ins, labels, 2, &resumed) != KILN_OK || resumed != loss) return 19;")
      c.line("if (memcmp(\(n)_params(ctx), \(n)_params(other), \(m)_PARAMS_BYTES) != 0) return 20;")
      c.line("if (\(n)_load_checkpoint(other, \"/nonexistent/checkpoint\") != KILN_ERR_IO) return 21;")
      c.line("if (\(n)_save(ctx, \"/nonexistent/dir/checkpoint\") != KILN_ERR_IO) return 22;")
      c.line("if (\(n)_step_count(NULL) != KILN_ERR_NULL_ARGUMENT || \(n)_params(NULL) != NULL) return 23;")
      c.line(
        "printf(\"%s trained ok: %lld steps, %d optimizer-state tensors\\n\", \"\(n)\", (long long)\(n)_step_count(ctx), \(t.optimizerState.count));"
      )
      for i in p.inputs.indices { c.line("free(in\(i));") }
      c.line("free(out0);")
      c.line("free(labels);")
      c.line("\(n)_destroy(ctx);")
      c.line("\(n)_destroy(other);")
      c.line("\(n)_destroy(NULL);")
      c.line("return 0;")
    }
    return c.text
  }

  struct Case: Sendable, CustomTestStringConvertible {
    var network: String
    var blas: Bool
    var testDescription: String { "\(network) \(blas ? "OpenBLAS" : "no-blas")" }
  }

  @Test(arguments: [
    Case(network: "lenet5", blas: true), Case(network: "resnet_block", blas: false),
    Case(network: "train_kitchen", blas: true), Case(network: "train_kitchen", blas: false),
  ])
  func trainingDriverRunsCleanUnderSanitizers(_ c: Case) throws {
    let g =
      c.network == "train_kitchen" ? try graph(source: trainingKitchenSpec) : try exampleGraph("\(c.network).kiln")
    var o = CompileOptions()
    o.maxBatch = 3
    o.blas = c.blas
    o.training = true
    let module = try Compilation.generate(g, specName: c.network, options: o) {
      try ParameterSource.parameters(for: g, weightsPath: nil, seed: 1)
    }
    let dir = try PackagePaths.temporaryDirectory("kiln-train-asan")
    try Compilation.write(module, to: dir)
    let driver = dir.appendingPathComponent("driver.c")
    try Self.driver(module).write(to: driver, atomically: true, encoding: .utf8)
    let build = try CBuilder.detect().buildExecutable(
      sources: [driver, dir.appendingPathComponent("\(module.name).c")], includeDirs: [dir],
      options: BuildOptions(
        optimization: .custom(["-O1", "-g", "-fno-omit-frame-pointer"]), blas: module.usesBLAS, warningsAsErrors: true,
        sanitizers: [.address, .undefined]))
    let checkpoint = dir.appendingPathComponent("checkpoint.safetensors").path
    let run = try runExecutable(
      build.url, arguments: [checkpoint],
      environment: [
        "ASAN_OPTIONS": "detect_leaks=1", "UBSAN_OPTIONS": "halt_on_error=1:print_stacktrace=1",
        "PATH": "/usr/bin:/bin",
      ])
    #expect(run.status == 0 && !run.signaled, "exit \(run.status)\n\(run.stdout)\n\(run.stderr)")
    #expect(run.stdout.contains("\(module.name) trained ok"))
    #expect(!run.stderr.contains("runtime error"), "\(run.stderr)")
    #expect(!run.stderr.contains("AddressSanitizer"), "\(run.stderr)")
  }
}
