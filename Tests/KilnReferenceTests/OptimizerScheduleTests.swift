// Learning-rate schedules over several epochs: constant, StepLR, CosineAnnealingLR and ReduceLROnPlateau.
import Foundation
import KilnIR
import Testing

@testable import KilnReference

@Suite struct OptimizerScheduleTests {
  /// The rates returned by `epochEnded` for each metric in turn.
  static func rates(_ schedule: Schedule, initial: Double, metrics: [Double?]) -> [Double] {
    var s = LearningRateSchedule(schedule, initialRate: initial)
    return metrics.map { s.epochEnded(metric: $0) }
  }

  static func expectRates(
    _ actual: [Double], _ expected: [Double], sourceLocation: Testing.SourceLocation = #_sourceLocation
  ) {
    #expect(actual.count == expected.count, sourceLocation: sourceLocation)
    for (a, e) in zip(actual, expected) where !(abs(a - e) <= 1e-12) {
      Issue.record("rates \(actual), expected \(expected)", sourceLocation: sourceLocation)
      return
    }
  }

  @Test func constantNeverChanges() {
    Self.expectRates(Self.rates(.constant, initial: 0.1, metrics: [0.5, nil, 0.1, 0.1]), [0.1, 0.1, 0.1, 0.1])
  }

  @Test func stepMultipliesEveryStepSizeEpochs() {
    // γ₀·γ^⌊e/2⌋ for e = 1…6.
    Self.expectRates(
      Self.rates(.step(stepSize: 2, gamma: 0.5), initial: 1, metrics: Array(repeating: nil, count: 6)),
      [1, 0.5, 0.5, 0.25, 0.25, 0.125])
  }

  @Test func cosineFollowsTheClosedForm() {
    // η + (γ₀ − η)(1 + cos(πe/4))/2 with γ₀ = 1, η = 0.1: e = 1: 0.1 + 0.9·(1 + √½)/2; e = 2: 0.55; e = 4: η;
    // past T = 4 it rises again, as PyTorch's closed form does (e = 5 equals e = 3).
    let half = 0.5.squareRoot()
    Self.expectRates(
      Self.rates(.cosine(tMax: 4, minLR: 0.1), initial: 1, metrics: Array(repeating: nil, count: 5)),
      [0.1 + 0.9 * (1 + half) / 2, 0.55, 0.1 + 0.9 * (1 - half) / 2, 0.1, 0.1 + 0.9 * (1 - half) / 2])
  }

  @Test func plateauDividesByTenWhenAccuracyStalls() {
    // patience 2: a rate falls on the third epoch in a row without a relative improvement of 1e-4.
    // e1 0.5 best; e2 0.6 best; e3 0.6 (bad 1); e4 0.60005 < 0.6·1.0001 (bad 2); e5 0.59 (bad 3 → 0.01);
    // e6 0.7 best; e7–e9 stall → 0.001 at e9; e10–e12 stall → max(1e-4, min_lr 1e-3) = 1e-3, no change.
    let metrics: [Double?] = [0.5, 0.6, 0.6, 0.60005, 0.59, 0.7, 0.7, 0.7, 0.7, 0.7, 0.7, 0.7]
    Self.expectRates(
      Self.rates(.plateau(factor: 0.1, patience: 2, minLR: 1e-3), initial: 0.1, metrics: metrics),
      [0.1, 0.1, 0.1, 0.1, 0.01, 0.01, 0.01, 0.01, 0.001, 0.001, 0.001, 0.001])
  }

  @Test func plateauCountsImprovementsAboveTheThresholdNaNAsStalledAndSkipsMissingMetrics() {
    // patience 1. 0.60007 > 0.6·1.0001 = 0.60006 is an improvement; NaN is not; nil epochs are not counted.
    var s = LearningRateSchedule(.plateau(factor: 0.5, patience: 1, minLR: 0), initialRate: 1)
    #expect(s.epochEnded(metric: 0.6) == 1)
    #expect(s.epochEnded(metric: 0.60007) == 1)
    #expect(s.best == 0.60007)
    #expect(s.epochEnded(metric: nil) == 1)
    #expect(s.epochEnded(metric: .nan) == 1)
    #expect(s.badEpochs == 1)
    #expect(s.epochEnded(metric: nil) == 1)
    #expect(s.epochEnded(metric: 0.6) == 0.5)
    #expect(s.badEpochs == 0)
    #expect(s.epochsEnded == 6)
  }

  @Test func theOptimizerStepsWithTheScheduledRate() throws {
    // SGD from p = 1 with g = 1: epoch 1 at 0.1, then StepLR halves the rate every epoch: 0.9, 0.85, 0.825.
    var optimizer = ReferenceOptimizer(.sgd(lr: 0.1, momentum: 0, dampening: 0, nesterov: false))
    var schedule = LearningRateSchedule(.step(stepSize: 1, gamma: 0.5), initialRate: optimizer.learningRate)
    var params = ["fc.weight": Tensor(shape: [1, 1], data: [1])]
    var path: [Float] = []
    for _ in 0..<3 {
      try optimizer.step(
        &params, gradients: ["fc.weight": Tensor(shape: [1, 1], data: [1])], kinds: ["fc.weight": .weight])
      path.append(params["fc.weight"]!.data[0])
      optimizer.learningRate = schedule.epochEnded()
    }
    #expect(path.count == 3)
    for (p, e) in zip(path, [0.9, 0.85, 0.825]) { expectClose(Double(p), e, tolerance: 1e-7) }
  }
}
