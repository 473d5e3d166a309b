// Classification metrics: accuracy, confusion matrix, per-class and averaged precision/recall/F1, top-k, as text and JSON.

import KilnIR

/// Why metrics cannot be computed from the labels or scores given.
public struct MetricsError: Error, Hashable, Sendable, CustomStringConvertible {
  /// What is wrong, with what was expected.
  public var message: String
  /// Creates an error with the given message.
  public init(_ message: String) { self.message = message }
  public var description: String { message }
}

/// Precision, recall and F1 of one class (or an average of them), and how many true samples it covers.
public struct ClassScores: Hashable, Sendable {
  /// Of the samples predicted as the class, the fraction that are it: TP / (TP + FP); 0 when none were predicted.
  public var precision: Double
  /// Of the samples of the class, the fraction predicted as it: TP / (TP + FN); 0 when there are none.
  public var recall: Double
  /// The harmonic mean 2PR / (P + R); 0 when P + R = 0.
  public var f1: Double
  /// The number of true samples of the class (for an average: of all classes).
  public var support: Int

  /// Scores from their values.
  public init(precision: Double, recall: Double, f1: Double, support: Int) {
    self.precision = precision
    self.recall = recall
    self.f1 = f1
    self.support = support
  }
}

/// The metrics of a single-label classifier on a labeled set, as `kiln train` reports them at the end.
///
/// The confusion matrix has ROWS = PREDICTED class and COLUMNS = TRUE class (the courses' convention; the transpose
/// of scikit-learn's). So for class c: TP = M[c][c], predicted count = row sum, support = column sum.
/// Averages follow scikit-learn: micro pools the counts of all classes (for single-label data every micro score
/// equals the accuracy), macro is the unweighted mean over all classes, weighted is the mean weighted by support.
/// Every ratio with a zero denominator is 0.
public struct ClassificationMetrics: Hashable, Sendable {
  /// The name of each class, indexed by label ("0", "1", … when none were given).
  public var classNames: [String]
  /// `confusion[predicted][true]`: how many samples of the true class were predicted as the predicted one.
  public var confusion: [[Int]]
  /// The number of samples.
  public var total: Int
  /// The number predicted correctly (the diagonal's sum).
  public var correct: Int
  /// Scores of each class, indexed by label.
  public var perClass: [ClassScores]
  /// Micro-averaged scores.
  public var micro: ClassScores
  /// Macro-averaged scores.
  public var macro: ClassScores
  /// Support-weighted averaged scores.
  public var weighted: ClassScores
  /// `topK[k − 1]`: the fraction of samples whose true class is among the k highest scores, for k = 1…classes.
  /// Empty when no scores were given. Ties rank the lower class index first, as argmax picks it.
  public var topK: [Double]

  /// The number of classes.
  public var classCount: Int { classNames.count }
  /// The fraction predicted correctly; 0 for no samples.
  public var accuracy: Double { ratio(correct, total) }

  /// Metrics of `predicted` labels against `actual` ones over `classCount` classes, with top-k accuracy when
  /// `scores` [N, classCount] are given. Throws when the counts or shapes disagree or a label is not a class.
  public init(
    predicted: [Int], actual: [Int], classCount: Int, scores: Tensor? = nil, classNames: [String]? = nil
  ) throws {
    guard classCount > 0 else { throw MetricsError("class count \(classCount); expected at least 1") }
    guard predicted.count == actual.count else {
      throw MetricsError("\(predicted.count) predicted labels for \(actual.count) true labels; expected one per sample")
    }
    if let classNames, classNames.count != classCount {
      throw MetricsError("\(classNames.count) class names for \(classCount) classes; expected one name per class")
    }
    for (what, labels) in [("predicted", predicted), ("true", actual)] {
      if let i = labels.firstIndex(where: { !(0..<classCount).contains($0) }) {
        throw MetricsError("\(what) label \(labels[i]) of sample \(i) is not a class; expected 0..<\(classCount)")
      }
    }
    if let scores, scores.shape != [actual.count, classCount] {
      throw MetricsError("scores have shape \(scores.shape); expected [\(actual.count), \(classCount)]")
    }
    self.classNames = classNames ?? (0..<classCount).map(String.init)
    var m = [[Int]](repeating: [Int](repeating: 0, count: classCount), count: classCount)
    for (p, t) in zip(predicted, actual) { m[p][t] += 1 }
    confusion = m
    total = actual.count
    correct = (0..<classCount).reduce(0) { $0 + m[$1][$1] }

    let tp = (0..<classCount).map { m[$0][$0] }
    let predictedCount = m.map { $0.reduce(0, +) }
    let support = (0..<classCount).map { t in m.reduce(0) { $0 + $1[t] } }
    perClass = (0..<classCount).map { c in
      Self.scores(tp: tp[c], predicted: predictedCount[c], support: support[c])
    }
    micro = Self.scores(tp: correct, predicted: predictedCount.reduce(0, +), support: total)
    let n = Double(classCount)
    macro = ClassScores(
      precision: perClass.map(\.precision).reduce(0, +) / n, recall: perClass.map(\.recall).reduce(0, +) / n,
      f1: perClass.map(\.f1).reduce(0, +) / n, support: total)
    let classScores = perClass
    let count = actual.count
    func weightedMean(_ value: (ClassScores) -> Double) -> Double {
      count == 0 ? 0 : classScores.reduce(0) { $0 + Double($1.support) * value($1) } / Double(count)
    }
    weighted = ClassScores(
      precision: weightedMean(\.precision), recall: weightedMean(\.recall), f1: weightedMean(\.f1), support: total)
    topK = scores.map { Self.topKAccuracy(scores: $0, actual: actual, classCount: classCount) } ?? []
  }

  /// Metrics of the argmax of `scores` [N, classes] (the first maximum on ties) against `actual`, with top-k.
  public init(scores: Tensor, actual: [Int], classNames: [String]? = nil) throws {
    guard scores.shape.count == 2, scores.shape[0] == actual.count, scores.shape[1] > 0 else {
      throw MetricsError("scores have shape \(scores.shape); expected [\(actual.count), classes]")
    }
    let k = scores.shape[1]
    let predicted = (0..<actual.count).map { i in
      var best = 0
      for c in 1..<k where scores.data[i * k + c] > scores.data[i * k + best] { best = c }
      return best
    }
    try self.init(predicted: predicted, actual: actual, classCount: k, scores: scores, classNames: classNames)
  }

  private static func scores(tp: Int, predicted: Int, support: Int) -> ClassScores {
    let p = ratio(tp, predicted)
    let r = ratio(tp, support)
    return ClassScores(precision: p, recall: r, f1: p + r > 0 ? 2 * p * r / (p + r) : 0, support: support)
  }

  /// The rank of the true class is the number of classes ordered before it: a higher score, or an equal score at a
  /// lower index. A NaN true score never counts as a hit; NaN scores of other classes never rank before it.
  private static func topKAccuracy(scores: Tensor, actual: [Int], classCount k: Int) -> [Double] {
    var hitsAtRank = [Int](repeating: 0, count: k)
    for (i, t) in actual.enumerated() {
      let row = scores.data[i * k..<(i + 1) * k]
      let s = row[row.startIndex + t]
      guard !s.isNaN else { continue }
      var rank = 0
      for c in 0..<k where c != t {
        let v = row[row.startIndex + c]
        if v > s || (v == s && c < t) { rank += 1 }
      }
      hitsAtRank[rank] += 1
    }
    var cumulative = 0
    return hitsAtRank.map { h in
      cumulative += h
      return ratio(cumulative, actual.count)
    }
  }
}

/// a / b, or 0 when b is 0.
func ratio(_ a: Int, _ b: Int) -> Double { b == 0 ? 0 : Double(a) / Double(b) }
