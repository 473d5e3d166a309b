// Learning-rate schedules per epoch: constant, StepLR, ReduceLROnPlateau (mode max) and CosineAnnealingLR.
import Foundation
import KilnIR

/// The learning rate of each epoch under a `Schedule`, with PyTorch's semantics (`torch.optim.lr_scheduler`).
///
/// Call `epochEnded(metric:)` once after each epoch; it returns the rate for the next one. With γ₀ the initial
/// rate and e the number of epochs ended:
/// - `.constant`: γ₀.
/// - `.step(s, γ)` (StepLR): γ₀ · γ^⌊e/s⌋.
/// - `.cosine(T, η)` (CosineAnnealingLR, closed form): η + (γ₀ − η)·(1 + cos(π·e/T))/2. As in PyTorch the
///   curve is not clamped: past T it rises again (period 2T), so T is normally the number of epochs.
/// - `.plateau(f, patience, minLR)` (ReduceLROnPlateau, mode "max" on validation accuracy, threshold 1e-4
///   "rel", cooldown 0, eps 1e-8): a metric a improves on the best b when a > b·(1 + 1e-4); after more than
///   `patience` epochs in a row without improvement the rate becomes max(rate·f, minLR) — unless that changes it
///   by no more than 1e-8 — and the count restarts. The courses' "divide by 10 when validation accuracy stalls"
///   is f = 0.1, the default.
public struct LearningRateSchedule: Hashable, Sendable {
  /// The schedule followed.
  public var schedule: Schedule
  /// The rate of the first epoch (γ₀).
  public var initialRate: Double
  /// The rate of the current epoch.
  public var rate: Double
  /// How many epochs have ended.
  public var epochsEnded: Int
  /// Plateau: the best metric seen so far (−∞ before the first).
  public var best: Double
  /// Plateau: epochs in a row without improvement on `best`.
  public var badEpochs: Int

  /// ReduceLROnPlateau's relative improvement threshold.
  public static let plateauThreshold = 1e-4
  /// ReduceLROnPlateau's smallest change of rate worth making.
  public static let plateauEpsilon = 1e-8

  /// The schedule at the start of training, at `initialRate` (normally the optimizer's `lr`).
  public init(_ schedule: Schedule, initialRate: Double) {
    self.schedule = schedule
    self.initialRate = initialRate
    self.rate = initialRate
    self.epochsEnded = 0
    self.best = -.infinity
    self.badEpochs = 0
  }

  /// Records the end of an epoch whose monitored metric (validation accuracy, higher is better) was `metric`, and
  /// returns the rate of the next epoch. Only the plateau schedule reads the metric; for it, an epoch with no
  /// metric (nil) is not counted at all, and a NaN metric counts as no improvement.
  @discardableResult
  public mutating func epochEnded(metric: Double? = nil) -> Double {
    epochsEnded += 1
    let e = Double(epochsEnded)
    switch schedule {
    case .constant:
      rate = initialRate
    case .step(let stepSize, let gamma):
      rate = initialRate * pow(gamma, Double(epochsEnded / max(stepSize, 1)))
    case .cosine(let tMax, let minLR):
      rate = minLR + (initialRate - minLR) * (1 + cos(Double.pi * e / Double(max(tMax, 1)))) / 2
    case .plateau(let factor, let patience, let minLR):
      guard let metric else { break }
      if metric > best * (1 + Self.plateauThreshold) {
        best = metric
        badEpochs = 0
      } else {
        badEpochs += 1
      }
      if badEpochs > patience {
        let reduced = max(rate * factor, minLR)
        if rate - reduced > Self.plateauEpsilon { rate = reduced }
        badEpochs = 0
      }
    }
    return rate
  }
}
