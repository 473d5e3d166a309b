// The gradient of a batch-averaged loss toward its prediction: the first step of every backward pass.
import KilnIR

/// Context of `loss_cross_entropy_gradient.c.mustache`.
public struct CrossEntropyLossGradientContext: KernelContext {
  public static let template = "loss_cross_entropy_gradient"
  /// The C function name and the text of its leading comment.
  public var name, comment: String
  /// Logits per sample.
  public var classes: Int
  /// Below this many values the loop runs on one thread.
  public var parallelThreshold: Int

  public static let sample = CrossEntropyLossGradientContext(
    name: "k1_grad_l", comment: "loss gradient l", classes: 10, parallelThreshold: elementwiseParallelThreshold)
}

/// Context of `loss_elementwise_gradient.c.mustache`.
public struct ElementwiseLossGradientContext: KernelContext {
  public static let template = "loss_elementwise_gradient"
  /// The C function name and the text of its leading comment.
  public var name, comment: String
  /// The loss's spec name, for the comment.
  public var kind: String
  /// Values per sample of the prediction (and the target).
  public var perSample: Int
  /// The C double expression of one element's ∂term/∂v, in `v` (prediction) and `t` (target).
  public var derivative: String
  /// Below this many values the loop runs on one thread.
  public var parallelThreshold: Int

  public static let sample = ElementwiseLossGradientContext(
    name: "k1_grad_l", comment: "loss gradient l", kind: "mse", perSample: 4, derivative: "2.0 * (v - t)",
    parallelThreshold: elementwiseParallelThreshold)
}

/// The gradient kernel of `loss` toward the prediction (operands [prediction, target], no dy: ∂L/∂L = 1).
enum LossGradientKernel {
  /* With E = n·(values per sample), as ReferenceGradients.loss:
       softmax_cross_entropy  dx = (softmax(x) − onehot(label))/n
       bce_with_logits        dx = (σ(x) − t)/E      (σ in the two-branch form that never overflows)
       mse                    dx = 2(x − t)/E
       mae                    dx = sign(x − t)/E     (0 at x = t and for NaN, as the reference)           */
  static func make(name: String, kind: LossKind, prediction: TensorType, target: TensorType) throws -> KernelFunction {
    let count = try LossKernel.checkTypes(name: name, kind: kind, prediction: prediction, target: target)
    let comment = "\(kind.rawValue) gradient \(name)"
    let definition: String
    if let derivative = derivative(kind) {
      definition = TemplateRenderer.shared.render(
        ElementwiseLossGradientContext(
          name: name, comment: comment, kind: kind.rawValue, perSample: count, derivative: derivative,
          parallelThreshold: elementwiseParallelThreshold))
    } else {
      definition = TemplateRenderer.shared.render(
        CrossEntropyLossGradientContext(
          name: name, comment: comment, classes: count, parallelThreshold: elementwiseParallelThreshold))
    }
    return KernelFunction(
      name: name, definition: definition,
      parameters: [
        KernelParameter("prediction", .input, floats: count),
        KernelParameter("target", .input, floats: kind.takesClassIndices ? 1 : count, dtype: target.dtype),
        KernelParameter("dx", .output, floats: count),
      ])
  }

  /// ∂term/∂v of an elementwise loss as a C double expression; nil for softmax cross-entropy (its own kernel).
  static func derivative(_ kind: LossKind) -> String? {
    switch kind {
    case .binaryCrossEntropyWithLogits: return "(v >= 0.0 ? 1.0 / (1.0 + exp(-v)) : exp(v) / (1.0 + exp(v))) - t"
    case .meanSquaredError: return "2.0 * (v - t)"
    case .meanAbsoluteError: return "v > t ? 1.0 : (v < t ? -1.0 : 0.0)"
    case .softmaxCrossEntropy: return nil
    }
  }
}
