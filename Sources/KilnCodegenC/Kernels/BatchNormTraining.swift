// The training-mode batch-norm forward: batch statistics, and the running statistics updated in place.
import KilnIR

/// Context of `batchnorm_training.c.mustache`.
public struct BatchNormTrainingContext: KernelContext {
  public static let template = "batchnorm_training"
  /// The C function name and the text of its leading comment.
  public var name, comment: String
  /// Channels per sample (dimension 0), values per channel and sample (H·W, or 1), and their product.
  public var channels, inner, perSample: Int
  /// ε and the momentum as C double literals.
  public var epsilon, momentum: String
  /// Below this many values the loop runs on one thread.
  public var parallelThreshold: Int

  public static let sample = BatchNormTrainingContext(
    name: "k1_batchnorm_bn", comment: "batchnorm (training) bn", channels: 4, inner: 9, perSample: 36,
    epsilon: cDouble(1e-5), momentum: cDouble(0.1), parallelThreshold: elementwiseParallelThreshold)
}

/// The kernel of `batchNorm` in training mode.
public enum BatchNormTrainingKernel {
  /// y = (x − μ)/√(σ² + ε)·γ + β over dimension 1 with the batch's own statistics (μ, biased σ² over the
  /// m = N·inner values of each channel), and, in place, running_mean ← (1 − momentum)·running_mean +
  /// momentum·μ, running_var ← (1 − momentum)·running_var + momentum·σ²·m/(m − 1) (unbiased, like PyTorch),
  /// all in double and rounded once, as `ReferenceOps.batchNormTraining`.
  ///
  /// Parameters: `x`, `weight` and `bias` (`<layer>.weight`, `.bias`, read), `running_mean` and `running_var`
  /// (`<layer>.running_mean`, `.running_var`, updated in place), `y`. A batch with m < 2 (PyTorch refuses
  /// it) gives a NaN y and leaves the running statistics alone.
  /// - Throws: `KernelShapeError` when the input is not f32 of rank ≥ 1.
  public static func make(name: String, layer: String, batchNorm: BatchNorm, input: TensorType) throws -> KernelFunction
  {
    let count = try KernelChecks.require(input, "input", ranks: 1...Int.max, layout: "[C] or [C, H, W]", kernel: name)
    let channels = input.dims[0]
    let context = BatchNormTrainingContext(
      name: name, comment: "batchnorm (training) \(cCommentText(layer))", channels: channels, inner: count / channels,
      perSample: count, epsilon: cDouble(batchNorm.epsilon), momentum: cDouble(batchNorm.momentum),
      parallelThreshold: elementwiseParallelThreshold)
    return KernelFunction(
      name: name, definition: TemplateRenderer.shared.render(context),
      parameters: [
        KernelParameter("x", .input, floats: count),
        KernelParameter("weight", .parameter, tensor: "\(layer).weight", floats: channels),
        KernelParameter("bias", .parameter, tensor: "\(layer).bias", floats: channels),
        KernelParameter("running_mean", .updatedParameter, tensor: "\(layer).running_mean", floats: channels),
        KernelParameter("running_var", .updatedParameter, tensor: "\(layer).running_var", floats: channels),
        KernelParameter("y", .output, floats: count),
      ])
  }
}
