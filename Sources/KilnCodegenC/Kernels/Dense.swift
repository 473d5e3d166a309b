// The dense (fully connected) kernels: OpenBLAS GEMM/GEMV or Kiln's own loops, bias and activation fused.
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
  /// Whether a bias or activation pass follows the BLAS call.
  public var epilogue: Bool
  /// The C expression of the activation applied to `v`.
  public var activationOfResult: String

  public static let sample = DenseBLASContext(
    name: "k1_dense_fc", comment: "dense fc", inFeatures: 8, units: 4, blockUnits: 4, blocks: 1, macsPerSample: 32,
    parallelThreshold: denseParallelThreshold, bias: true, epilogue: true, activationOfResult: "v")
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
  public var activationOfResult: String

  public static let sample = DenseLoopsContext(
    name: "k1_dense_fc", comment: "dense fc", inFeatures: 8, units: 4, macsPerSample: 32,
    parallelThreshold: denseParallelThreshold, bias: true, activationOfResult: "v")
}

/// The kernels of `Op.dense`.
public enum DenseKernel {
  /// `y[n, units] = act(x[n, inFeatures]·Wᵀ + b)` with W in PyTorch's [units, in] layout.
  ///
  /// Parameters: `x` (input, `inFeatures` per sample), `weight` (`<layer>.weight`), `bias` (`<layer>.bias`,
  /// only when `dense.bias`), `y` (output, `units` per sample). With `options.blas` it calls OpenBLAS, which
  /// the module must keep single-threaded (`openblas_set_num_threads(1)`): OpenMP spreads the fixed blocks
  /// of units over the threads instead.
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
    let activation = cActivation(dense.activation, "v")
    let definition: String
    if options.blas {
      // Blocks of a multiple of 16 units (whole vectors), at most one per thread slot.
      let slots = max(options.threadSlots, 1)
      let blockUnits = min(units, roundUp((units + slots - 1) / slots, to: 16))
      definition = TemplateRenderer.shared.render(
        DenseBLASContext(
          name: name, comment: comment, inFeatures: inFeatures, units: units, blockUnits: blockUnits,
          blocks: (units + blockUnits - 1) / blockUnits, macsPerSample: inFeatures * units,
          parallelThreshold: denseParallelThreshold, bias: dense.bias,
          epilogue: dense.bias || dense.activation != .identity, activationOfResult: activation))
    } else {
      definition = TemplateRenderer.shared.render(
        DenseLoopsContext(
          name: name, comment: comment, inFeatures: inFeatures, units: units, macsPerSample: inFeatures * units,
          parallelThreshold: denseParallelThreshold, bias: dense.bias, activationOfResult: activation))
    }
    var parameters = [
      KernelParameter("x", .input, floats: inFeatures),
      KernelParameter("weight", .parameter, tensor: "\(layer).weight", floats: units * inFeatures),
    ]
    if dense.bias { parameters.append(KernelParameter("bias", .parameter, tensor: "\(layer).bias", floats: units)) }
    parameters.append(KernelParameter("y", .output, floats: units))
    return KernelFunction(name: name, definition: definition, parameters: parameters, usesBLAS: options.blas)
  }
}

/// Dense and convolution calls with fewer multiply-adds than this run on one thread: 2^17 MACs take about
/// 3 µs at the ~90 GFLOP/s of one core, against about 1 µs for an OpenMP region here (MACHINE-NOTES §1).
public let denseParallelThreshold = 1 << 17

/// `value` rounded up to a multiple of `multiple`.
func roundUp(_ value: Int, to multiple: Int) -> Int { (value + multiple - 1) / multiple * multiple }
