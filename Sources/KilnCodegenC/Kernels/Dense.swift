// The dense (fully connected) kernels: OpenBLAS GEMM/GEMV or Kiln's own loops, bias and epilogue fused.
import KilnIR

/// Context of `dense_blas.c.mustache`: `cblas_sgemm` (`cblas_sgemv` at batch 1) per fixed block of units.
public struct DenseBLASContext: KernelContext {
  public static let template = "dense_blas"
  public var name: String
  public var comment: String
  public var inFeatures: Int
  public var units: Int
  /// Units per BLAS call, and how many calls cover all units.
  public var blockUnits: Int
  public var blocks: Int
  /// in·units: the multiply-adds of one sample, for the parallel threshold.
  public var macsPerSample: Int
  public var parallelThreshold: Int
  public var bias: Bool
  /// Whether a pass over the block's outputs follows the BLAS call (a bias or epilogue steps to apply).
  public var postPass: Bool
  /// The activation and epilogue steps applied to each value, and the extra inputs they read.
  public var epilogue: [EpilogueStepContext]
  public var operands: [EpilogueOperandContext]
  public var epilogueSummary: String

  public static let sample = DenseBLASContext(
    name: "k1_dense_fc", comment: "dense fc", inFeatures: 8, units: 4, blockUnits: 4, blocks: 1, macsPerSample: 32,
    bias: true, epilogue: FusedEpilogue(activation: .relu, epilogue: [.add, .activation(.tanh)]))

  init(
    name: String, comment: String, inFeatures: Int, units: Int, blockUnits: Int, blocks: Int, macsPerSample: Int,
    bias: Bool, epilogue: FusedEpilogue
  ) {
    (self.name, self.comment, self.inFeatures, self.units) = (name, comment, inFeatures, units)
    (self.blockUnits, self.blocks, self.macsPerSample) = (blockUnits, blocks, macsPerSample)
    parallelThreshold = denseParallelThreshold
    self.bias = bias
    postPass = bias || !epilogue.steps.isEmpty
    self.epilogue = epilogue.steps
    operands = epilogue.operands
    epilogueSummary = epilogue.summary
  }
}

/// Context of `dense_loops.c.mustache`: vectorized dot products, four samples per weight row read.
public struct DenseLoopsContext: KernelContext {
  public static let template = "dense_loops"
  public var name: String
  public var comment: String
  public var inFeatures: Int
  public var units: Int
  public var macsPerSample: Int
  public var parallelThreshold: Int
  public var bias: Bool
  /// The activation and epilogue steps applied to each value, and the extra inputs they read.
  public var epilogue: [EpilogueStepContext]
  public var operands: [EpilogueOperandContext]
  public var epilogueSummary: String

  public static let sample = DenseLoopsContext(
    name: "k1_dense_fc", comment: "dense fc", inFeatures: 8, units: 4, macsPerSample: 32, bias: true,
    epilogue: FusedEpilogue(activation: .identity, epilogue: [.mul, .activation(.relu)]))

  init(name: String, comment: String, inFeatures: Int, units: Int, macsPerSample: Int, bias: Bool, epilogue: FusedEpilogue) {
    (self.name, self.comment, self.inFeatures, self.units, self.macsPerSample) =
      (name, comment, inFeatures, units, macsPerSample)
    parallelThreshold = denseParallelThreshold
    self.bias = bias
    self.epilogue = epilogue.steps
    operands = epilogue.operands
    epilogueSummary = epilogue.summary
  }
}

/// The kernels of `Op.dense`.
public enum DenseKernel {
  /// `y[n, units] = e(act(x[n, inFeatures]·Wᵀ + b))` with W in PyTorch's [units, in] layout and e the layer's
  /// `epilogue` (activations, and adds/muls of the extra inputs r1, r2, …).
  ///
  /// Parameters: `x` (input, `inFeatures` per sample), `weight` (`<layer>.weight`), `bias` (`<layer>.bias`,
  /// only when `dense.bias`), `r1`, `r2`, … (the epilogue's operands, `units` per sample), `y` (output, `units`
  /// per sample). With `options.blas` it calls OpenBLAS, which the module must keep single-threaded
  /// (`openblas_set_num_threads(1)`): OpenMP spreads the fixed blocks of units over the threads instead, and
  /// each block's bias and epilogue run right after its BLAS call. Kiln's loops apply them in registers. `y`
  /// never shares memory with an operand (dense never runs in place), so every pointer stays `restrict`.
  ///
  /// The graph is verified before lowering, so sizes are positive and the activation is elementwise
  /// (softmax and log-softmax are lowered to their own kernel); anything else is a compiler defect and traps.
  public static func make(name: String, layer: String, dense: Dense, inFeatures: Int, options: KernelOptions)
    -> KernelFunction
  {
    precondition(dense.activation.isElementwise, "dense \(layer): \(dense.activation) needs its own kernel")
    precondition(inFeatures > 0 && dense.units > 0, "dense \(layer): \(inFeatures) → \(dense.units) features")
    let units = dense.units
    let comment = "dense \(layer)"
    let epilogue = FusedEpilogue(activation: dense.activation, epilogue: dense.epilogue)
    let definition: String
    if options.blas {
      let blockUnits = denseBlockSize(units, slots: options.threadSlots)
      definition = TemplateRenderer.shared.render(
        DenseBLASContext(
          name: name, comment: comment, inFeatures: inFeatures, units: units, blockUnits: blockUnits,
          blocks: (units + blockUnits - 1) / blockUnits, macsPerSample: inFeatures * units, bias: dense.bias,
          epilogue: epilogue))
    } else {
      definition = TemplateRenderer.shared.render(
        DenseLoopsContext(
          name: name, comment: comment, inFeatures: inFeatures, units: units, macsPerSample: inFeatures * units,
          bias: dense.bias, epilogue: epilogue))
    }
    var parameters = [
      KernelParameter("x", .input, floats: inFeatures),
      KernelParameter("weight", .parameter, tensor: "\(layer).weight", floats: units * inFeatures),
    ]
    if dense.bias { parameters.append(KernelParameter("bias", .parameter, tensor: "\(layer).bias", floats: units)) }
    parameters += epilogue.parameters(floats: units)
    parameters.append(KernelParameter("y", .output, floats: units))
    return KernelFunction(name: name, definition: definition, parameters: parameters, usesBLAS: options.blas)
  }
}

/// Dense and convolution calls with fewer multiply-adds than this run on one thread: 2^17 MACs take about
/// 3 µs at the ~90 GFLOP/s of one core, against about 1 µs for an OpenMP region here (MACHINE-NOTES §1).
public let denseParallelThreshold = 1 << 17

/// `value` rounded up to a multiple of `multiple`.
func roundUp(_ value: Int, to multiple: Int) -> Int { (value + multiple - 1) / multiple * multiple }

/// The rows of `total` one OpenBLAS call of a dense kernel covers: a multiple of 16 (whole vectors), at most one
/// block per thread slot, but at least 128 rows (or all of them): a call on fewer loses to call overhead and
/// thin panels (a 64×512×784 sgemm in 8 blocks of 64 ran at 52 GFLOP/s, in 2 of 256 at 60; one thread, Zen 3).
/// The cut depends on the shape only, never on the thread count.
func denseBlockSize(_ total: Int, slots: Int) -> Int {
  let perSlot = roundUp((total + max(slots, 1) - 1) / max(slots, 1), to: 16)
  return min(total, max(perSlot, 128))
}
