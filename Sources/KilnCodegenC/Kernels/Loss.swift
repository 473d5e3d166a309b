// The loss value kernels: softmax cross-entropy on class indices, and the elementwise losses, batch-averaged.
import KilnIR

/// Context of `loss_cross_entropy.c.mustache`.
public struct CrossEntropyLossContext: KernelContext {
  public static let template = "loss_cross_entropy"
  /// The C function name and the text of its leading comment.
  public var name, comment: String
  /// Logits per sample.
  public var classes: Int

  public static let sample = CrossEntropyLossContext(name: "k1_loss_l", comment: "loss l", classes: 10)
}

/// Context of `loss_elementwise.c.mustache`.
public struct ElementwiseLossContext: KernelContext {
  public static let template = "loss_elementwise"
  /// The C function name and the text of its leading comment.
  public var name, comment: String
  /// The loss's spec name, for the comment.
  public var kind: String
  /// Values per sample of the prediction (and the target).
  public var perSample: Int
  /// The C double expression of one element's term, in `v` (prediction) and `t` (target).
  public var term: String

  public static let sample = ElementwiseLossContext(
    name: "k1_loss_l", comment: "loss l", kind: "mse", perSample: 4, term: "(v - t) * (v - t)")
}

/// The kernel of a loss's value: one unbatched float, averaged over the batch as `ReferenceOps.loss`.
public enum LossKernel {
  /// The loss of `prediction` against `target` at run-time batch n (PyTorch's reduction='mean'):
  /// - softmax_cross_entropy: logits [C] per sample and i64 class indices (`target` i64[] per sample,
  ///   `const int64_t *`): (1/n)·Σ logsumexp(x) − x[label]; a label outside 0..<C gives NaN;
  /// - bce_with_logits: mean of max(x, 0) − x·t + log(1 + e^(−|x|)) (the stable form);
  /// - mse: mean of (x − t)²;   mae: mean of |x − t|;
  /// summed in double in the reference's order and rounded once. Parameters `prediction`, `target`, `loss`
  /// (1 float, unbatched).
  /// - Throws: `KernelShapeError` when the types do not fit the loss (as `Shapes.loss` requires them).
  public static func make(name: String, kind: LossKind, prediction: TensorType, target: TensorType) throws
    -> KernelFunction
  {
    let count = try checkTypes(name: name, kind: kind, prediction: prediction, target: target)
    let comment = "\(kind.rawValue) \(name)"
    let definition: String
    if let term = term(kind) {
      definition = TemplateRenderer.shared.render(
        ElementwiseLossContext(name: name, comment: comment, kind: kind.rawValue, perSample: count, term: term))
    } else {
      definition = TemplateRenderer.shared.render(CrossEntropyLossContext(name: name, comment: comment, classes: count))
    }
    return KernelFunction(
      name: name, definition: definition,
      parameters: [
        KernelParameter("prediction", .input, floats: count),
        KernelParameter("target", .input, floats: kind.takesClassIndices ? 1 : count, dtype: target.dtype),
        KernelParameter("loss", .output, floats: 1, batched: false),
      ])
  }

  /// Checks the prediction and target types of `kind`; returns the prediction's values per sample.
  static func checkTypes(name: String, kind: LossKind, prediction: TensorType, target: TensorType) throws -> Int {
    guard prediction.batched, target.batched else {
      throw KernelShapeError(
        kernel: name, "\(kind.rawValue): prediction \(prediction) and target \(target) must be batched")
    }
    if kind.takesClassIndices {
      let classes = try KernelChecks.require(prediction, "prediction", ranks: 1...1, layout: "[classes]", kernel: name)
      guard target.dtype == .i64, target.dims.isEmpty else {
        throw KernelShapeError(kernel: name, "\(kind.rawValue): target is \(target); expected i64[] class indices")
      }
      return classes
    }
    let count = try KernelChecks.require(prediction, "prediction", ranks: 1...Int.max, layout: "[d1, …]", kernel: name)
    guard target.dtype == .f32, target.dims == prediction.dims else {
      throw KernelShapeError(
        kernel: name, "\(kind.rawValue): target is \(target); expected \(prediction) like the prediction")
    }
    return count
  }

  /// One element's term of an elementwise loss, as the reference writes it (max(v, 0) keeps a NaN as Swift's
  /// max does); nil for softmax cross-entropy, which has its own kernel.
  static func term(_ kind: LossKind) -> String? {
    switch kind {
    case .binaryCrossEntropyWithLogits: return "(0.0 >= v ? 0.0 : v) - v * t + log1p(exp(-fabs(v)))"
    case .meanSquaredError: return "(v - t) * (v - t)"
    case .meanAbsoluteError: return "fabs(v - t)"
    case .softmaxCrossEntropy: return nil
    }
  }
}
