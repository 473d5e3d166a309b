// What `kiln train` must carry across a resume besides weights and optimizer state: the learning-rate schedule's
// memory, early stopping's best loss and patience count, and the epochs so far. It rides in each checkpoint.
import Foundation
import KilnReference

/// The trainer's state after an epoch, saved as the checkpoint's `kiln.note` metadata (JSON), so a resumed run
/// follows the same schedule and stopping rule as one that never stopped (a plateau schedule's best accuracy and
/// bad-epoch count are not derivable from the weights).
struct TrainerState: Codable, Equatable {
  /// The format of this record; a checkpoint with another version is resumed without it.
  static let currentVersion = 1
  var version = Self.currentVersion
  /// The checkpoint's step count this state belongs to (checked against `kiln.step` on resume).
  var step: Int
  /// The schedule followed, as written (`String(describing:)`), so a changed schedule is noticed.
  var scheduleKind: String
  /// `LearningRateSchedule`'s mutable fields.
  var rate: Double
  var epochsEnded: Int
  var plateauBest: Double
  var plateauBadEpochs: Int
  /// Early stopping: the best monitored loss, its epoch (nil before any), epochs since it.
  var bestLoss: Double
  var bestEpoch: Int?
  var badEpochs: Int
  /// Every epoch trained so far, so the report and curve cover the whole run.
  var history: [EpochRecord]

  /// The schedule with this state's memory restored.
  func restoring(_ schedule: LearningRateSchedule) -> LearningRateSchedule {
    var s = schedule
    s.rate = rate
    s.epochsEnded = epochsEnded
    s.best = plateauBest
    s.badEpochs = plateauBadEpochs
    return s
  }

  /// JSON text; infinities (no best yet) are written as strings, since JSON has no number for them.
  func encoded() throws -> String {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys]
    encoder.nonConformingFloatEncodingStrategy = .convertToString(
      positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
    return String(decoding: try encoder.encode(self), as: UTF8.self)
  }

  /// The state in `text`, or nil when it is not a record of this version.
  static func decode(_ text: String) -> TrainerState? {
    let decoder = JSONDecoder()
    decoder.nonConformingFloatDecodingStrategy = .convertFromString(
      positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
    guard let state = try? decoder.decode(TrainerState.self, from: Data(text.utf8)),
      state.version == currentVersion
    else { return nil }
    return state
  }
}
