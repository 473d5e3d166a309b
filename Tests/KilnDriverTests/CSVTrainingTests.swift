// The trainer on CSV tables: regression to a low MSE, classification by named classes, and clear errors.
import Foundation
import KilnData
import KilnDriver
import KilnIR
import KilnTestSupport
import Testing

/// Writes `text` as `name` in `run`'s folder and returns its path.
func writeFile(_ run: TrainingRun, _ name: String, _ text: String) throws -> String {
  let path = run.path(name)
  try text.write(toFile: path, atomically: true, encoding: .utf8)
  return path
}

/// A two-feature network with a loss of `loss(PREDICTION, target)` and `units` outputs.
func tabularGraph(_ run: TrainingRun, loss: String, units: Int, epochs: Int) throws -> Graph {
  let spec = """
    network tabular
    input x: f32[2]
    dense h (units: 16, activation: tanh)
    dense out (units: \(units))
    output y
    train {
      loss: \(loss)(y, target)
      optimizer: adam(lr: 0.02)
      batch: 16
      epochs: \(epochs)
      validation: 0.2
      seed: 5
    }
    """
  return try NetworkLoader.graph(path: try writeFile(run, "tabular.kiln", spec))
}

/// `rows` samples of x1, x2 uniform in [-1, 1) from a seeded stream, each with the row's target text.
func table(rows: Int, seed: UInt64, target: (Double, Double, inout Xoshiro256StarStar) -> String) -> String {
  var rng = Xoshiro256StarStar(seed: seed)
  var lines = ["x1,x2,y"]
  for _ in 0..<rows {
    let x1 = 2 * rng.nextUnit() - 1
    let x2 = 2 * rng.nextUnit() - 1
    lines.append("\(x1),\(x2),\(target(x1, x2, &rng))")
  }
  return lines.joined(separator: "\n") + "\n"
}

@Suite struct CSVTrainingTests {
  /// y = 2·x1 − x2 + uniform noise in ±0.05 (variance 0.00083): the held-out MSE falls far below y's variance 1.67.
  @Test func regressionReachesALowError() throws {
    let run = try TrainingRun()
    let csv = try writeFile(
      run, "line.csv", table(rows: 500, seed: 11) { x1, x2, rng in "\(2 * x1 - x2 + 0.1 * (rng.nextUnit() - 0.5))" })
    let report = try Trainer.run(
      try tabularGraph(run, loss: "mse", units: 1, epochs: 25), specName: "tabular.kiln",
      options: run.options(.csv(path: csv, target: "y")))
    #expect(report.metrics == nil)
    #expect(report.evaluationName == "validation")
    #expect(report.evaluationLoss < 0.02, "validation MSE \(report.evaluationLoss)")
    #expect(report.history.count == 25)
    #expect(report.history.last!.trainLoss < report.history.first!.trainLoss / 10)
  }

  /// Classes named by text (sorted: "inside" 0, "outside" 1) of a disc around the origin.
  @Test func classificationByNamedClasses() throws {
    let run = try TrainingRun()
    let csv = try writeFile(
      run, "disc.csv", table(rows: 600, seed: 12) { x1, x2, _ in x1 * x1 + x2 * x2 < 0.5 ? "inside" : "outside" })
    let report = try Trainer.run(
      try tabularGraph(run, loss: "softmax_cross_entropy", units: 2, epochs: 20), specName: "tabular.kiln",
      options: run.options(.csv(path: csv, target: "y")))
    let metrics = try #require(report.metrics)
    #expect(metrics.classNames == ["inside", "outside"])
    #expect(metrics.total == 120)
    #expect(metrics.accuracy >= 0.9, "validation accuracy \(metrics.accuracy)")
  }

  @Test func unknownTargetColumnNamesTheColumns() throws {
    let run = try TrainingRun()
    let csv = try writeFile(run, "t.csv", "a,b,y\n1,2,3\n4,5,6\n")
    #expect {
      _ = try Trainer.run(
        try tabularGraph(run, loss: "mse", units: 1, epochs: 1), specName: "tabular.kiln",
        options: run.options(.csv(path: csv, target: "price")))
    } throws: { "\($0)".contains("t.csv:1:1") && "\($0)".contains("'price'") && "\($0)".contains("a, b, y") }
  }

  @Test func badCellNamesItsPlace() throws {
    let run = try TrainingRun()
    let csv = try writeFile(run, "bad.csv", "x1,x2,y\n1,2,3\n4,five,6\n")
    #expect {
      _ = try Trainer.run(
        try tabularGraph(run, loss: "mse", units: 1, epochs: 1), specName: "tabular.kiln",
        options: run.options(.csv(path: csv, target: "y")))
    } throws: { "\($0)".contains("bad.csv:3:3") && "\($0)".contains("'five'") }
  }

  @Test func featuresThatDoNotFitTheInputAreAClearError() throws {
    let run = try TrainingRun()
    let csv = try writeFile(run, "wide.csv", "a,b,c,y\n1,2,3,4\n5,6,7,8\n9,1,2,3\n")
    #expect {
      _ = try Trainer.run(
        try tabularGraph(run, loss: "mse", units: 1, epochs: 1), specName: "tabular.kiln",
        options: run.options(.csv(path: csv, target: "y")))
    } throws: { "\($0)".contains("each sample has 3 values") && "\($0)".contains("takes 2") }
  }

  @Test func flagsOverrideTheTrainSection() throws {
    let run = try TrainingRun()
    let spec = try tabularGraph(run, loss: "mse", units: 1, epochs: 3).training
    var o = TrainingOptions(data: .csv(path: "unused.csv", target: "y"))
    o.optimizer = "sgd"
    o.learningRate = 0.3
    o.momentum = 0.8
    o.batch = 7
    o.epochs = 2
    o.weightDecay = 1e-4
    let config = try o.resolve(spec)
    #expect(config.optimizer == .sgd(lr: 0.3, momentum: 0.8, dampening: 0, nesterov: false))
    #expect(config.batchSize == 7 && config.epochs == 2 && config.regularization.weightDecay == 1e-4)
    o.optimizer = "adam"
    #expect { try o.resolve(spec) } throws: { "\($0)".contains("adam has no momentum") }
    o.optimizer = "lion"
    #expect { try o.resolve(spec) } throws: { "\($0)".contains("unknown optimizer") }
    #expect(throws: TrainingError.self) { try DataSource(argument: "csv:x.csv", target: nil) }
    #expect(throws: TrainingError.self) { try DataSource(argument: "mnist", target: nil) }
  }
}
