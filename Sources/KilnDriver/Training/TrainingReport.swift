// What a training run tells as it goes (batches, epochs) and at the end (history, final metrics), as text, JSON and SVG.
import Foundation
import KilnData
import KilnPasses

/// Where an epoch is, after one of its steps.
public struct BatchProgress: Hashable, Sendable {
  /// The epoch, from 1.
  public var epoch: Int
  /// The number of epochs of the run.
  public var epochs: Int
  /// Samples of this epoch trained on so far.
  public var samplesDone: Int
  /// Samples of the epoch in all.
  public var samplesTotal: Int
  /// Seconds since the epoch started.
  public var elapsed: Double
  /// The mean training loss of the epoch so far.
  public var loss: Double

  /// Samples per second this epoch.
  public var samplesPerSecond: Double { elapsed > 0 ? Double(samplesDone) / elapsed : 0 }
  /// Seconds left in the epoch at the current speed.
  public var remaining: Double {
    samplesPerSecond > 0 ? Double(samplesTotal - samplesDone) / samplesPerSecond : 0
  }

  /// A progress bar of `width` cells with the loss, speed and ETA, e.g. `epoch 1/5 [#####.....] 50% …`.
  public func bar(width: Int = 30) -> String {
    let fraction = samplesTotal > 0 ? Double(samplesDone) / Double(samplesTotal) : 1
    let filled = min(width, Int(fraction * Double(width)))
    let cells = String(repeating: "#", count: filled) + String(repeating: ".", count: width - filled)
    return "epoch \(epoch)/\(epochs) [\(cells)] \(String(format: "%3.0f", fraction * 100))% loss \(fixed(loss, 4)) "
      + "\(fixed(samplesPerSecond, 0)) samples/s ETA \(fixed(remaining, 1)) s"
  }
}

/// One finished epoch.
public struct EpochRecord: Hashable, Sendable, Codable {
  /// The epoch, from 1.
  public var epoch: Int
  /// The mean training loss over the epoch's samples (before each step's update).
  public var trainLoss: Double
  /// The validation loss after the epoch, nil without a validation part.
  public var validationLoss: Double?
  /// The validation accuracy after the epoch (classification with a validation part only).
  public var validationAccuracy: Double?
  /// The learning rate the epoch trained at.
  public var learningRate: Double
  /// Training samples per second (steps only, not validation).
  public var samplesPerSecond: Double
  /// Seconds since training started.
  public var elapsed: Double
  /// Whether this epoch's weights became `best.safetensors`.
  public var isBest: Bool

  /// One line: `epoch 2: train loss 0.5123 · val loss 0.4810 · val acc 83.10% · 41,200 samples/s · lr 0.001 · 3.1 s`.
  public var line: String {
    var parts = ["train loss \(fixed(trainLoss, 4))"]
    if let validationLoss { parts.append("val loss \(fixed(validationLoss, 4))") }
    if let validationAccuracy { parts.append("val acc \(fixed(validationAccuracy * 100, 2))%") }
    parts.append("\(grouped(Int(samplesPerSecond.rounded()))) samples/s")
    parts.append("lr \(Float(learningRate))")
    parts.append("\(fixed(elapsed, 1)) s")
    return "epoch \(epoch): " + parts.joined(separator: " · ") + (isBest ? " · best" : "")
  }
}

/// Something a running training reports.
public enum TrainingEvent: Sendable {
  /// A step finished.
  case batch(BatchProgress)
  /// An epoch finished (validated, checkpointed).
  case epoch(EpochRecord)
  /// A note: resuming, early stopping, files written.
  case note(String)
}

/// Everything a finished run measured.
public struct TrainingReport: Sendable {
  /// The network's name.
  public var network: String
  /// The data's name.
  public var data: String
  /// Each epoch trained in this run, in order.
  public var history: [EpochRecord]
  /// The epoch whose weights were kept (the best validation loss, else training loss).
  public var bestEpoch: Int?
  /// Whether early stopping ended the run before its last epoch.
  public var stoppedEarly: Bool
  /// What the final metrics were measured on ("test", "validation" or "training").
  public var evaluationName: String
  /// The loss of the kept weights on those samples.
  public var evaluationLoss: Double
  /// Classification metrics of the kept weights on those samples; nil for regression.
  public var metrics: ClassificationMetrics?

  /// The final metrics as text: the loss, and for classification accuracy, top-1/top-3 and the full table.
  public var summary: String {
    var text =
      "\(evaluationName) loss \(fixed(evaluationLoss, 4)) on the weights of epoch \(bestEpoch.map(String.init) ?? "-")\n"
    if let m = metrics {
      text += "\(evaluationName) accuracy \(fixed(m.accuracy * 100, 2))% (\(m.correct)/\(m.total))"
      let top = m.topK
      if top.count >= 3 { text += " · top-1 \(fixed(top[0] * 100, 2))% · top-3 \(fixed(top[2] * 100, 2))%" }
      text += "\n\n" + m.table()
    }
    return text
  }

  /// Train loss, validation loss (left axis) and validation accuracy (right axis) per epoch.
  public var chart: LineChart {
    var series = [LineChart.Series("train loss", history.map(\.trainLoss))]
    if history.contains(where: { $0.validationLoss != nil }) {
      series.append(.init("validation loss", history.map { $0.validationLoss ?? .nan }))
    }
    if history.contains(where: { $0.validationAccuracy != nil }) {
      series.append(.init("validation accuracy", history.map { $0.validationAccuracy ?? .nan }, axis: .right))
    }
    return LineChart(title: "\(network) on \(data)", series: series)
  }

  /// The run as JSON: network, data, best epoch, early stop, each epoch's figures, and the final metrics (the
  /// ClassificationMetrics object under `metrics` for classification).
  public func json() throws -> String {
    func number(_ v: Double?) -> Any { v.flatMap { $0.isFinite ? $0 : nil } ?? NSNull() }
    var object: [String: Any] = [
      "network": network, "data": data, "best_epoch": bestEpoch ?? NSNull(), "stopped_early": stoppedEarly,
      "evaluation": ["samples": evaluationName, "loss": number(evaluationLoss)],
      "epochs": history.map { e -> [String: Any] in
        [
          "epoch": e.epoch, "train_loss": number(e.trainLoss), "validation_loss": number(e.validationLoss),
          "validation_accuracy": number(e.validationAccuracy),
          "learning_rate": Double("\(Float(e.learningRate))") ?? e.learningRate,
          "samples_per_second": e.samplesPerSecond, "elapsed_seconds": e.elapsed,
        ]
      },
    ]
    if let metrics { object["metrics"] = try JSONSerialization.jsonObject(with: Data(metrics.json().utf8)) }
    let data = try JSONSerialization.data(
      withJSONObject: object, options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes])
    return String(decoding: data, as: UTF8.self) + "\n"
  }
}

/// `value` with `digits` decimals.
func fixed(_ value: Double, _ digits: Int) -> String { String(format: "%.\(digits)f", value) }
