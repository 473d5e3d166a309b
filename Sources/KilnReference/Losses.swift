// The reference losses, each averaged over the batch (PyTorch's reduction='mean').
import Foundation
import KilnIR

extension ReferenceOps {
  /// The loss of `prediction` against `target`, in Double:
  /// - softmax_cross_entropy (nn.CrossEntropyLoss): logits [N, C], labels i64 [N] in 0..<C;
  ///   mean over n of logsumexp(x[n, :]) − x[n, label[n]].
  /// - bce_with_logits (nn.BCEWithLogitsLoss): mean of max(x, 0) − x·t + log(1 + e^(−|x|)).
  /// - mse (nn.MSELoss): mean of (x − t)².
  /// - mae (nn.L1Loss): mean of |x − t|.
  ///
  /// The float losses take an f32 target shaped like the prediction and average over every element.
  public static func loss(_ kind: LossKind, prediction: Tensor, target: AnyTensor) throws -> Double {
    _ = try Shapes.loss(kind, prediction: prediction.shape, target: target.shape, targetType: target.dtype)
    switch (kind, target) {
    case (.softmaxCrossEntropy, .i64(let labels)):
      let (n, classes) = (prediction.shape[0], prediction.shape[1])
      var total = 0.0
      for s in 0..<n {
        let label = labels.data[s]
        guard label >= 0, label < Int64(classes) else {
          throw ReferenceError(
            "\(kind.rawValue): label \(label) at sample \(s) is out of range; expected a class index in 0..<\(classes)")
        }
        let row = prediction.data[(s * classes)..<((s + 1) * classes)]
        total += logSumExp(row) - Double(row[s * classes + Int(label)])
      }
      return total / Double(n)
    case (.binaryCrossEntropyWithLogits, .f32(let t)):
      return mean(prediction, t) { x, t in max(x, 0) - x * t + log1p(exp(-abs(x))) }
    case (.meanSquaredError, .f32(let t)):
      return mean(prediction, t) { x, t in (x - t) * (x - t) }
    case (.meanAbsoluteError, .f32(let t)):
      return mean(prediction, t) { x, t in abs(x - t) }
    case (.softmaxCrossEntropy, .f32), (.binaryCrossEntropyWithLogits, .i64), (.meanSquaredError, .i64),
      (.meanAbsoluteError, .i64):
      // Shapes.loss has already rejected these element types; kept exhaustive so a new loss must be handled.
      throw ReferenceError("\(kind.rawValue): target has element type \(target.dtype.rawValue)")
    }
  }

  /// The mean over every element of term(prediction, target), in Double.
  private static func mean(_ x: Tensor, _ t: Tensor, _ term: (Double, Double) -> Double) -> Double {
    var total = 0.0
    for (a, b) in zip(x.data, t.data) { total += term(Double(a), Double(b)) }
    return total / Double(x.count)
  }
}
