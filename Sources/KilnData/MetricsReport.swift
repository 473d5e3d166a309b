// Classification metrics rendered as a fixed-width text report and as JSON.

import Foundation

extension ClassificationMetrics {
  /// A fixed-width report: accuracy, top-k, the confusion matrix (rows predicted, columns true), then precision,
  /// recall, F1 and support per class and averaged, scores to `digits` decimals.
  public func table(digits: Int = 4) -> String {
    let digits = max(0, min(digits, 12))
    func number(_ v: Double) -> String { String(format: "%.\(digits)f", v) }
    func pad(_ s: String, _ width: Int, left: Bool = false) -> String {
      let fill = String(repeating: " ", count: max(0, width - s.count))
      return left ? s + fill : fill + s
    }
    var lines = ["accuracy \(number(accuracy)) (\(correct)/\(total))"]
    if !topK.isEmpty {
      lines.append(topK.enumerated().map { "top-\($0.offset + 1) \(number($0.element))" }.joined(separator: "  "))
    }

    lines.append("")
    lines.append("confusion matrix (rows = predicted, columns = true)")
    let counts = confusion.flatMap { $0 }.map(String.init)
    let cell = max(counts.map(\.count).max() ?? 1, classNames.map(\.count).max() ?? 1) + 2
    let nameWidth = max(classNames.map(\.count).max() ?? 0, "weighted avg".count)
    lines.append(pad("", nameWidth) + classNames.map { pad($0, cell) }.joined())
    for (p, row) in confusion.enumerated() {
      lines.append(pad(classNames[p], nameWidth, left: true) + row.map { pad(String($0), cell) }.joined())
    }

    lines.append("")
    let column = max(digits + 4, "precision".count + 2)
    lines.append(
      pad("", nameWidth) + ["precision", "recall", "f1-score", "support"].map { pad($0, column) }.joined())
    func row(_ name: String, _ s: ClassScores) -> String {
      pad(name, nameWidth, left: true) + [s.precision, s.recall, s.f1].map { pad(number($0), column) }.joined()
        + pad(String(s.support), column)
    }
    for (c, scores) in perClass.enumerated() { lines.append(row(classNames[c], scores)) }
    lines.append("")
    lines.append(row("micro avg", micro))
    lines.append(row("macro avg", macro))
    lines.append(row("weighted avg", weighted))
    return lines.joined(separator: "\n") + "\n"
  }

  /// The metrics as a JSON object with keys `samples`, `correct`, `accuracy`, `classes`, `confusion_matrix`
  /// (`rows`: "predicted", `columns`: "true", `counts`), `per_class` (one object per class: `class`, `precision`,
  /// `recall`, `f1`, `support`), `micro_avg`, `macro_avg`, `weighted_avg` and `top_k_accuracy` (index k − 1).
  /// Numbers are Swift's shortest round-trip forms; the output is deterministic and ends with a newline.
  public func json() -> String {
    func scores(_ s: ClassScores, name: String? = nil) -> String {
      let head = name.map { "\"class\": \(jsonQuoted($0)), " } ?? ""
      return
        "{\(head)\"precision\": \(s.precision), \"recall\": \(s.recall), \"f1\": \(s.f1), \"support\": \(s.support)}"
    }
    let counts = confusion.map { "      [" + $0.map(String.init).joined(separator: ", ") + "]" }.joined(
      separator: ",\n")
    let perClassText = perClass.enumerated().map { "    " + scores($0.element, name: classNames[$0.offset]) }
      .joined(separator: ",\n")
    return """
      {
        "samples": \(total),
        "correct": \(correct),
        "accuracy": \(accuracy),
        "classes": [\(classNames.map(jsonQuoted).joined(separator: ", "))],
        "confusion_matrix": {
          "rows": "predicted",
          "columns": "true",
          "counts": [
      \(counts)
          ]
        },
        "per_class": [
      \(perClassText)
        ],
        "micro_avg": \(scores(micro)),
        "macro_avg": \(scores(macro)),
        "weighted_avg": \(scores(weighted)),
        "top_k_accuracy": [\(topK.map { "\($0)" }.joined(separator: ", "))]
      }

      """
  }
}
