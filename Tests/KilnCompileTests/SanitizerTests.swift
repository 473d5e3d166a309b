// Generated modules under AddressSanitizer and UndefinedBehaviorSanitizer, driven by a plain C program.
import Foundation
import KilnCodegenC
import KilnData
import KilnDriver
import KilnHarness
import KilnIR
import KilnTestSupport
import Testing

@Suite(.serialized) struct SanitizerTests {
  struct Case: Sendable, CustomTestStringConvertible {
    var network: String
    var blas: Bool
    var testDescription: String { "\(network) \(blas ? "OpenBLAS" : "no-blas")" }
  }

  static let cases = ["lenet5.kiln", "resnet_block.kiln", "inception_block.kiln", "mnist_cnn.kiln", kitchenSink].flatMap {
    [Case(network: $0, blas: true), Case(network: $0, blas: false)]
  }
  static let kitchenSink = "kitchen_sink"

  /// A C driver exercising a module's whole API: every batch from 1 to the maximum, NaN, and each bad call.
  static func driver(_ module: GeneratedModule) -> String {
    let p = module.program
    let n = p.name
    var c = CPrinter()
    c.directive("#include <math.h>")
    c.directive("#include <stdio.h>")
    c.directive("#include <stdlib.h>")
    c.directive("#include \"\(n).h\"")
    c.function("int main(void)") { c in
      c.line("\(n)_ctx *ctx = \(n)_create();")
      c.line("if (!ctx) return 2;")
      c.line("if (\(n)_set_threads(ctx, 2) != KILN_OK) return 3;")
      for (i, v) in p.inputs.enumerated() {
        c.line("float *in\(i) = malloc(sizeof(float) * \(n.uppercased())_MAX_BATCH * \(v.type.elementCount));")
        c.line("for (long k = 0; k < (long)\(n.uppercased())_MAX_BATCH * \(v.type.elementCount); k++) in\(i)[k] = (float)((k * 7919) % 200 - 100) / 50.0f;")
      }
      for (i, v) in p.outputs.enumerated() {
        c.line("float *out\(i) = malloc(sizeof(float) * \(n.uppercased())_MAX_BATCH * \(v.type.elementCount));")
      }
      c.line("const float *ins[\(p.inputs.count)] = {\(p.inputs.indices.map { "in\($0)" }.joined(separator: ", "))};")
      c.line("float *outs[\(p.outputs.count)] = {\(p.outputs.indices.map { "out\($0)" }.joined(separator: ", "))};")
      c.block("for (int b = 1; b <= \(n.uppercased())_MAX_BATCH; b++)") { c in
        c.line("int rc = \(n)_infer_all(ctx, ins, b, outs);")
        c.line("if (rc != KILN_OK) { printf(\"batch %d: %s\\n\", b, \(n)_strerror(rc)); return 4; }")
      }
      c.line("in0[0] = NAN;")
      c.line("if (\(n)_infer_all(ctx, ins, 1, outs) != KILN_OK) return 5;")
      c.line("if (!isnan(out0[0]) && \(p.outputs[0].type.elementCount) > 0) { int any = 0; for (int k = 0; k < \(p.outputs[0].type.elementCount); k++) any |= isnan(out0[k]); if (!any) return 6; }")
      c.line("if (\(n)_infer_all(ctx, ins, \(n.uppercased())_MAX_BATCH + 1, outs) != KILN_ERR_BATCH_TOO_LARGE) return 7;")
      c.line("if (\(n)_infer_all(ctx, ins, 0, outs) != KILN_ERR_BAD_BATCH) return 8;")
      c.line("if (\(n)_infer_all(ctx, NULL, 1, outs) != KILN_ERR_NULL_ARGUMENT) return 9;")
      c.line("if (\(n)_infer_all(NULL, ins, 1, outs) != KILN_ERR_NULL_ARGUMENT) return 10;")
      c.line("if (\(n)_load_weights(ctx, \"/nonexistent.safetensors\") != KILN_ERR_IO) return 11;")
      c.line("if (\(n)_load_weights_file(ctx, \"/nonexistent.weights\") != KILN_ERR_IO) return 12;")
      c.line("printf(\"%s ok: %s\\n\", \"\(n)\", \(n)_strerror(KILN_ERR_BATCH_TOO_LARGE));")
      for i in p.inputs.indices { c.line("free(in\(i));") }
      for i in p.outputs.indices { c.line("free(out\(i));") }
      c.line("\(n)_destroy(ctx);")
      c.line("\(n)_destroy(NULL);")
      c.line("return 0;")
    }
    return c.text
  }

  @Test(arguments: cases)
  func driverRunsCleanUnderSanitizers(_ c: Case) throws {
    let g = c.network == Self.kitchenSink ? try graph(source: kitchenSinkSpec) : try exampleGraph(c.network)
    var o = CompileOptions()
    o.maxBatch = 3
    o.blas = c.blas
    let module = try Compilation.generate(g, specName: c.network, options: o) {
      try ParameterSource.parameters(for: g, weightsPath: nil, seed: 1)
    }
    let dir = try PackagePaths.temporaryDirectory("kiln-asan")
    try Compilation.write(module, to: dir)
    let driver = dir.appendingPathComponent("driver.c")
    try Self.driver(module).write(to: driver, atomically: true, encoding: .utf8)
    let builder = try CBuilder.detect()
    let build = try builder.buildExecutable(
      sources: [driver, dir.appendingPathComponent("\(module.name).c")], includeDirs: [dir],
      options: BuildOptions(
        optimization: .custom(["-O1", "-g", "-fno-omit-frame-pointer"]), blas: module.usesBLAS, warningsAsErrors: true,
        sanitizers: [.address, .undefined]))
    let run = try runExecutable(
      build.url, environment: ["ASAN_OPTIONS": "detect_leaks=1", "UBSAN_OPTIONS": "halt_on_error=1:print_stacktrace=1", "PATH": "/usr/bin:/bin"])
    #expect(run.status == 0 && !run.signaled, "exit \(run.status)\n\(run.stdout)\n\(run.stderr)")
    #expect(run.stdout.contains("\(module.name) ok"))
    #expect(!run.stderr.contains("runtime error"), "\(run.stderr)")
    #expect(!run.stderr.contains("AddressSanitizer"), "\(run.stderr)")
  }
}
