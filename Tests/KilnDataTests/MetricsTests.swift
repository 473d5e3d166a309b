// Classification metrics: the seed example exactly, averages, top-k, zero divisions, the text and JSON reports.

import Foundation
import KilnIR
import Testing

@testable import KilnData

@Suite struct MetricsTests {
  /// Label arrays that produce `matrix` (rows predicted, columns true), sample by sample in row-major order.
  static func labels(from matrix: [[Int]]) -> (predicted: [Int], actual: [Int]) {
    var predicted: [Int] = []
    var actual: [Int] = []
    for (p, row) in matrix.enumerated() {
      for (t, count) in row.enumerated() {
        predicted += Array(repeating: p, count: count)
        actual += Array(repeating: t, count: count)
      }
    }
    return (predicted, actual)
  }

  /// The seed example of ../shared/seed-examples.md: urgent, normal, spam.
  static let seed = [[8, 10, 1], [5, 60, 50], [3, 30, 200]]

  @Test func reproducesTheSeedExample() throws {
    let (predicted, actual) = Self.labels(from: Self.seed)
    let m = try ClassificationMetrics(
      predicted: predicted, actual: actual, classCount: 3, classNames: ["urgent", "normal", "spam"])
    #expect(m.confusion == Self.seed)
    #expect((m.total, m.correct) == (367, 268))
    // Precision: urgent 8/19 = .42, normal 60/115 = .52, spam 200/233 = .86.
    let precisions: [Double] = [8.0 / 19, 60.0 / 115, 200.0 / 233]
    #expect(m.perClass.map(\.precision) == precisions)
    let rounded: [Double] = m.perClass.map { ($0.precision * 100).rounded() / 100 }
    #expect(rounded == [0.42, 0.52, 0.86])
    // Micro-averaged precision 268/367 = .73, equal to the accuracy; macro-averaged .60.
    #expect(m.micro.precision == 268.0 / 367)
    #expect(m.accuracy == 268.0 / 367)
    #expect(abs(m.macro.precision - (8.0 / 19 + 60.0 / 115 + 200.0 / 233) / 3) < 1e-15)
    #expect((m.macro.precision * 100).rounded() / 100 == 0.60)
    // Recall: .50, .60, .797 (column sums 16, 100, 251).
    let recalls: [Double] = [0.5, 0.6, 200.0 / 251]
    #expect(m.perClass.map(\.recall) == recalls)
    #expect((m.perClass[2].recall * 1000).rounded() / 1000 == 0.797)
    #expect(m.perClass.map(\.support) == [16, 100, 251])
    #expect(m.micro.recall == 268.0 / 367 && m.micro.f1 == 268.0 / 367)
    // F1 of urgent: 2·(8/19)·(1/2)/(8/19 + 1/2) = 16/35.
    #expect(abs(m.perClass[0].f1 - 16.0 / 35) < 1e-15)
    let weightedRecall: Double = (16 * 0.5 + 100 * 0.6 + 251 * (200.0 / 251)) / 367
    #expect(abs(m.weighted.recall - weightedRecall) < 1e-15)
    #expect(abs(m.weighted.recall - m.accuracy) < 1e-15)  // support-weighted recall is always the accuracy
    #expect(m.topK.isEmpty)
  }

  @Test func topKFromScoresWithTiesBrokenByIndex() throws {
    // True classes 0, 1, 2, 2. Ranks of the true class: sample 0 first; sample 1 second (0.5 < 0.7);
    // sample 2 third; sample 3 ties class 0 at 0.4, and the lower index wins, so second.
    let scores = Tensor(shape: [4, 3], data: [0.9, 0.05, 0.05, 0.7, 0.5, 0.1, 0.6, 0.3, 0.1, 0.4, 0.2, 0.4])
    let m = try ClassificationMetrics(scores: scores, actual: [0, 1, 2, 2])
    #expect(m.topK == [0.25, 0.75, 1])
    #expect(m.accuracy == m.topK[0])
    #expect(m.confusion == [[1, 1, 2], [0, 0, 0], [0, 0, 0]])
    #expect(m.classNames == ["0", "1", "2"])
  }

  @Test func zeroDivisionsGiveZero() throws {
    // Class 1 is never predicted and never true, class 2 is predicted but never true.
    let m = try ClassificationMetrics(predicted: [0, 2], actual: [0, 0], classCount: 3)
    #expect(m.perClass[1] == ClassScores(precision: 0, recall: 0, f1: 0, support: 0))
    #expect(m.perClass[2] == ClassScores(precision: 0, recall: 0, f1: 0, support: 0))
    #expect(m.perClass[0] == ClassScores(precision: 1, recall: 0.5, f1: 2.0 / 3, support: 2))
    let empty = try ClassificationMetrics(predicted: [], actual: [], classCount: 2, scores: Tensor(zeros: [0, 2]))
    #expect(empty.accuracy == 0 && empty.macro.f1 == 0 && empty.weighted.precision == 0 && empty.topK == [0, 0])
  }

  @Test func rejectsInconsistentInput() {
    expectError(containing: ["2 predicted labels for 1 true labels"]) {
      _ = try ClassificationMetrics(predicted: [0, 1], actual: [0], classCount: 2)
    }
    expectError(containing: ["true label 5 of sample 1 is not a class; expected 0..<2"]) {
      _ = try ClassificationMetrics(predicted: [0, 1], actual: [0, 5], classCount: 2)
    }
    expectError(containing: ["predicted label -1 of sample 0"]) {
      _ = try ClassificationMetrics(predicted: [-1], actual: [0], classCount: 2)
    }
    expectError(containing: ["scores have shape [1, 3]; expected [1, 2]"]) {
      _ = try ClassificationMetrics(predicted: [0], actual: [0], classCount: 2, scores: Tensor(zeros: [1, 3]))
    }
    expectError(containing: ["1 class names for 2 classes"]) {
      _ = try ClassificationMetrics(predicted: [0], actual: [0], classCount: 2, classNames: ["a"])
    }
    expectError(containing: ["class count 0"]) {
      _ = try ClassificationMetrics(predicted: [], actual: [], classCount: 0)
    }
    expectError(containing: ["scores have shape [2, 2]; expected [1, classes]"]) {
      _ = try ClassificationMetrics(scores: Tensor(zeros: [2, 2]), actual: [0])
    }
  }

  @Test func textReport() throws {
    let (predicted, actual) = Self.labels(from: Self.seed)
    let m = try ClassificationMetrics(
      predicted: predicted, actual: actual, classCount: 3, classNames: ["urgent", "normal", "spam"])
    // Weighted precision (16·8/19 + 100·60/115 + 251·200/233)/367 = .75; macro recall (.5 + .6 + .797)/3 = .63.
    let expected = """
      accuracy 0.73 (268/367)

      confusion matrix (rows = predicted, columns = true)
                    urgent  normal    spam
      urgent             8      10       1
      normal             5      60      50
      spam               3      30     200

                    precision     recall   f1-score    support
      urgent             0.42       0.50       0.46         16
      normal             0.52       0.60       0.56        100
      spam               0.86       0.80       0.83        251

      micro avg          0.73       0.73       0.73        367
      macro avg          0.60       0.63       0.61        367
      weighted avg       0.75       0.73       0.74        367

      """
    #expect(m.table(digits: 2) == expected)
    #expect(m.table().contains("urgent           0.4211     0.5000     0.4571         16"))
  }

  @Test func jsonReportParsesAndCarriesEveryNumber() throws {
    let scores = Tensor(shape: [2, 2], data: [0.9, 0.1, 0.8, 0.2])
    let m = try ClassificationMetrics(scores: scores, actual: [0, 1], classNames: ["a \"quoted\"", "b"])
    let object = try #require(
      JSONSerialization.jsonObject(with: Data(m.json().utf8)) as? [String: Any])
    #expect(object["samples"] as? Int == 2)
    #expect(object["accuracy"] as? Double == 0.5)
    #expect(object["classes"] as? [String] == ["a \"quoted\"", "b"])
    let confusion = try #require(object["confusion_matrix"] as? [String: Any])
    #expect(confusion["counts"] as? [[Int]] == [[1, 1], [0, 0]])
    #expect(confusion["rows"] as? String == "predicted")
    let perClass = try #require(object["per_class"] as? [[String: Any]])
    #expect(perClass.map { $0["precision"] as? Double } == [0.5, 0])
    #expect(perClass.map { $0["support"] as? Int } == [1, 1])
    let macro = try #require(object["macro_avg"] as? [String: Any])
    #expect(macro["recall"] as? Double == 0.5)
    #expect(object["top_k_accuracy"] as? [Double] == [0.5, 1])
    _ = try JSONParser.parse(Array(m.json().utf8))  // also valid for KilnData's strict RFC 8259 parser
  }
}
