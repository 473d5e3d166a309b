// <name>_prepare: the C twin of ParameterPreparation, folding batch norms into params when weights are loaded.
import Foundation
import KilnPasses

extension SourceWriter {
  /// `static void <name>_prepare(const float *source, float *params)`: params (the kernel layout) from the
  /// tensors a safetensors file holds (the source layout of the tensor table). Written only when the program
  /// folded a batch norm; otherwise the two layouts are one and the loader reads params directly.
  ///
  /// Per folded channel c, in double and rounded to float once, as `ParameterPreparation.kernelValues`:
  /// s = γ_c / √(σ²_c + ε); W'_c = W_c · s; b'_c = (b_c − μ_c) · s + β_c (b_c = 0 without a source bias).
  static func writePrepare(_ c: inout CPrinter, _ l: ModuleLayout) {
    let p = l.program
    let n = l.names
    func source(_ name: String) -> Int { p.sourceParameters.first { $0.spec.name == name }?.offset ?? 0 }
    c.comment(
      """
      Kernel params from the source tensors (fold-batchnorm): each folded layer's weight and bias are computed
      in double from its unfolded weight, bias and batch-norm statistics; every other tensor is copied.
      """)
    c.function("static void \(n.fn("prepare"))(const float *source, float *params)") { c in
      var folded: Set<String> = []
      for f in p.folds {
        guard let w = p.parameter("\(f.layer).weight"), let b = p.parameter("\(f.layer).bias") else { continue }
        folded.formUnion([w.spec.name, b.spec.name])
        c.block("/* \(f.layer) absorbs batch norm \(f.batchNorm) */") { c in
          c.line("const float *w = source + \(source("\(f.layer).weight"));")
          if f.sourceBias { c.line("const float *b = source + \(source("\(f.layer).bias"));") }
          c.line("const float *gamma = source + \(source("\(f.batchNorm).weight"));")
          c.line("const float *beta = source + \(source("\(f.batchNorm).bias"));")
          c.line("const float *mean = source + \(source("\(f.batchNorm).running_mean"));")
          c.line("const float *var = source + \(source("\(f.batchNorm).running_var"));")
          c.line("float *w_out = params + \(w.offset);")
          c.line("float *b_out = params + \(b.offset);")
          c.block("for (long ch = 0; ch < \(f.channels)L; ++ch)") { c in
            c.line("double scale = (double)gamma[ch] / sqrt((double)var[ch] + \(String(format: "%a", f.epsilon)));")
            c.line("for (long i = ch * \(f.weightsPerChannel)L; i < (ch + 1) * \(f.weightsPerChannel)L; ++i) w_out[i] = (float)((double)w[i] * scale);")
            let bias = f.sourceBias ? "(double)b[ch]" : "0.0"
            c.line("b_out[ch] = (float)((\(bias) - (double)mean[ch]) * scale + (double)beta[ch]);")
          }
        }
      }
      for slot in p.parameters where !folded.contains(slot.spec.name) {
        c.line("memcpy(params + \(slot.offset), source + \(source(slot.spec.name)), \(slot.spec.elementCount) * sizeof(float)); /* \(slot.spec.name) */")
      }
    }
    c.line()
  }
}
