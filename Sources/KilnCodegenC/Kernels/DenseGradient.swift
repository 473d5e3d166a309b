// The backward kernels of a dense layer: ∂L/∂x, ∂L/∂W and ∂L/∂b from dy, by OpenBLAS or Kiln's own loops.
import KilnIR

/// Context of `dense_grad_input_blas.c.mustache`: dx = dy·W by `cblas_sgemm` (`cblas_sgemv` at batch 1) per fixed
/// block of input features.
public struct DenseGradInputBLASContext: KernelContext {
  public static let template = "dense_grad_input_blas"
  public var name: String
  public var comment: String
  public var inFeatures: Int
  public var units: Int
  /// Input features per BLAS call, and how many calls cover them all.
  public var blockFeatures: Int
  public var blocks: Int
  /// in·units: the multiply-adds of one sample, for the parallel threshold.
  public var macsPerSample: Int
  public var parallelThreshold: Int

  public static let sample = DenseGradInputBLASContext(
    name: "k1_grad_fc", comment: "dense fc: dx", inFeatures: 8, units: 4, blockFeatures: 8, blocks: 1,
    macsPerSample: 32, parallelThreshold: denseParallelThreshold)
}

/// Context of `dense_grad_weight_blas.c.mustache`: dW = dyᵀ·x by one `cblas_sgemm` over the batch per fixed block
/// of units.
public struct DenseGradWeightBLASContext: KernelContext {
  public static let template = "dense_grad_weight_blas"
  public var name: String
  public var comment: String
  public var inFeatures: Int
  public var units: Int
  /// Units (rows of dW) per BLAS call, and how many calls cover them all.
  public var blockUnits: Int
  public var blocks: Int
  public var macsPerSample: Int
  public var parallelThreshold: Int

  public static let sample = DenseGradWeightBLASContext(
    name: "k1_grad_fc", comment: "dense fc: dW", inFeatures: 8, units: 4, blockUnits: 4, blocks: 1,
    macsPerSample: 32, parallelThreshold: denseParallelThreshold)
}

/// Context of `dense_grad_input_loops.c.mustache`: dx = dy·W, four samples per pass over W.
public struct DenseGradInputLoopsContext: KernelContext {
  public static let template = "dense_grad_input_loops"
  public var name: String
  public var comment: String
  public var inFeatures: Int
  public var units: Int
  public var macsPerSample: Int
  public var parallelThreshold: Int

  public static let sample = DenseGradInputLoopsContext(
    name: "k1_grad_fc", comment: "dense fc: dx", inFeatures: 8, units: 4, macsPerSample: 32,
    parallelThreshold: denseParallelThreshold)
}

/// Context of `dense_grad_weight_loops.c.mustache`: dW = dyᵀ·x, four rows of dW per pass over x.
public struct DenseGradWeightLoopsContext: KernelContext {
  public static let template = "dense_grad_weight_loops"
  public var name: String
  public var comment: String
  public var inFeatures: Int
  public var units: Int
  /// ⌈units/4⌉: the groups of four rows, one per loop iteration.
  public var unitQuads: Int
  public var macsPerSample: Int
  public var parallelThreshold: Int

  public static let sample = DenseGradWeightLoopsContext(
    name: "k1_grad_fc", comment: "dense fc: dW", inFeatures: 8, units: 4, unitQuads: 1, macsPerSample: 32,
    parallelThreshold: denseParallelThreshold)
}

/// Context of `dense_grad_bias.c.mustache`: db = the column sums of dy.
public struct DenseGradBiasContext: KernelContext {
  public static let template = "dense_grad_bias"
  public var name: String
  public var comment: String
  public var units: Int

  public static let sample = DenseGradBiasContext(name: "k1_grad_fc", comment: "dense fc: db", units: 4)
}

/// The kernels of a `.gradient` node whose forward op is `.dense`.
public enum DenseGradientKernel {
  /// The backward of `y = x·Wᵀ + b` (W: [units, in], PyTorch's layout) toward `target`:
  ///
  ///     dx[n, i] = Σ_o dy[n, o]·W[o, i]     (dy·W)      target .input(0),          operands [dy]
  ///     dW[o, i] = Σ_n dy[n, o]·x[n, i]     (dyᵀ·x)     target .parameter(.weight), operands [dy, x0]
  ///     db[o]    = Σ_n dy[n, o]                         target .parameter(.bias),   operands [dy]
  ///
  /// Parameters: `dy` (input, `units` per sample), then `x` (input, `inFeatures` per sample) for dW or `weight`
  /// (`<layer>.weight`) for dx; the output `dx` (batched, `inFeatures` per sample), or `dweight` / `dbias`
  /// (unbatched, the parameter's size). With `options.blas`, dx and dW call OpenBLAS (the module keeps it
  /// single-threaded, MACHINE-NOTES §4: 160–170 GFLOP/s on 2 threads at batch 64) over fixed blocks of
  /// columns or rows spread over OpenMP; without it, Kiln's loops. Every result is summed in an order that
  /// does not depend on the thread count.
  ///
  /// - Throws: `KernelShapeError` when the forward layer still has a fused activation, an epilogue or a folded
  ///   batch norm (autodiff differentiates the unfused, unfolded graph), when the sizes are not positive, or
  ///   when `target` names something the layer does not have.
  public static func make(
    name: String, layer: String, dense: Dense, inFeatures: Int, target: Gradient.Target, options: KernelOptions
  ) throws -> KernelFunction {
    try requireDifferentiable(dense, layer: layer, kernel: name)
    let units = dense.units
    guard inFeatures >= 1, units >= 1 else {
      throw KernelShapeError(
        kernel: name, "dense '\(layer)' maps \(inFeatures) features to \(units) units; expected both ≥ 1")
    }
    let (macs, overflow) = inFeatures.multipliedReportingOverflow(by: units)
    guard !overflow, macs <= KernelChecks.maxElements else {
      throw KernelShapeError(
        kernel: name,
        "dense '\(layer)': the weight of \(units)×\(inFeatures) has more than \(KernelChecks.maxElements) values")
    }
    let threshold = denseParallelThreshold
    func blockSize(_ total: Int) -> Int { denseBlockSize(total, slots: options.threadSlots) }
    let dy = KernelParameter("dy", .input, floats: units)

    switch target {
    case .input(0):
      let comment = "dense \(layer): dx"
      let definition: String
      if options.blas {
        let block = blockSize(inFeatures)
        definition = TemplateRenderer.shared.render(
          DenseGradInputBLASContext(
            name: name, comment: comment, inFeatures: inFeatures, units: units, blockFeatures: block,
            blocks: (inFeatures + block - 1) / block, macsPerSample: macs, parallelThreshold: threshold))
      } else {
        definition = TemplateRenderer.shared.render(
          DenseGradInputLoopsContext(
            name: name, comment: comment, inFeatures: inFeatures, units: units, macsPerSample: macs,
            parallelThreshold: threshold))
      }
      let parameters = [
        dy, KernelParameter("weight", .parameter, tensor: "\(layer).weight", floats: macs),
        KernelParameter("dx", .output, floats: inFeatures),
      ]
      return KernelFunction(name: name, definition: definition, parameters: parameters, usesBLAS: options.blas)

    case .parameter(.weight):
      let comment = "dense \(layer): dW"
      let definition: String
      if options.blas {
        let block = blockSize(units)
        definition = TemplateRenderer.shared.render(
          DenseGradWeightBLASContext(
            name: name, comment: comment, inFeatures: inFeatures, units: units, blockUnits: block,
            blocks: (units + block - 1) / block, macsPerSample: macs, parallelThreshold: threshold))
      } else {
        definition = TemplateRenderer.shared.render(
          DenseGradWeightLoopsContext(
            name: name, comment: comment, inFeatures: inFeatures, units: units, unitQuads: (units + 3) / 4,
            macsPerSample: macs, parallelThreshold: threshold))
      }
      let parameters = [
        dy, KernelParameter("x", .input, floats: inFeatures),
        KernelParameter("dweight", .output, floats: macs, batched: false),
      ]
      return KernelFunction(name: name, definition: definition, parameters: parameters, usesBLAS: options.blas)

    case .parameter(.bias) where dense.bias:
      let definition = TemplateRenderer.shared.render(
        DenseGradBiasContext(name: name, comment: "dense \(layer): db", units: units))
      return KernelFunction(
        name: name, definition: definition,
        parameters: [dy, KernelParameter("dbias", .output, floats: units, batched: false)])

    default:
      throw KernelShapeError(
        kernel: name,
        "dense '\(layer)' has no \(target) to differentiate; expected x0, weight\(dense.bias ? " or bias" : "")")
    }
  }

  /// Whether `gradient` is the backward of a dense layer (the kernels of this enum).
  public static func differentiates(_ gradient: Gradient) -> Bool {
    if case .dense = gradient.forward { return true }
    return false
  }

  /// The kernel of a gradient node of a dense layer: `make(name:layer:dense:inFeatures:target:options:)` with the
  /// node's forward attributes, parameter prefix, input size and target.
  public static func make(name: String, gradient g: Gradient, options: KernelOptions) throws -> KernelFunction {
    guard case .dense(let dense) = g.forward, let x = g.forwardInputTypes.first else {
      throw KernelShapeError(
        kernel: name, "gradient of '\(g.forwardName)' is not the backward of a dense layer with an input")
    }
    return try make(
      name: name, layer: g.forwardName, dense: dense, inFeatures: x.elementCount, target: g.target, options: options)
  }

  /// Autodiff splits a fused activation and epilogue off before differentiating, and training never folds
  /// batch norms: a layer with any of them here is a pipeline defect, reported rather than computed wrongly.
  static func requireDifferentiable(_ dense: Dense, layer: String, kernel: String) throws {
    guard dense.activation == .identity, dense.epilogue.isEmpty else {
      throw KernelShapeError(
        kernel: kernel,
        "dense '\(layer)' has a fused \(dense.activation) activation or epilogue \(dense.epilogue); autodiff splits it off, so its backward expects identity"
      )
    }
    guard dense.foldedBatchNorm == nil else {
      throw KernelShapeError(
        kernel: kernel, "dense '\(layer)' has a folded batch norm; training differentiates the unfolded graph")
    }
  }
}
