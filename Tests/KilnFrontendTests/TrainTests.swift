// The train section: losses and targets, every optimizer and schedule with PyTorch's defaults, every setting.

import KilnFrontend
import KilnIR
import Testing

/// One value of a train setting and what it must read as.
struct OptimizerCase: Sendable, CustomTestStringConvertible {
  var spelling: String
  var optimizer: Optimizer
  var testDescription: String { spelling }
}

struct ScheduleCase: Sendable, CustomTestStringConvertible {
  var spelling: String
  var schedule: Schedule
  var testDescription: String { spelling }
}

/// The training configuration of a small net whose train section holds `settings` after a loss line.
func training(_ settings: String, sourceLocation: Testing.SourceLocation = #_sourceLocation) -> TrainingConfig? {
  let spec = "network n\ninput x: f32[4]\ndense d (units: 3)\noutput y\ntrain {\n  loss: softmax_cross_entropy(y, labels)\n\(settings)\n}\n"
  return parseClean(spec, sourceLocation: sourceLocation)?.training
}

@Suite struct TrainTests {
  static let optimizers: [OptimizerCase] = [
    OptimizerCase(spelling: "sgd", optimizer: .sgd(lr: 0.01, momentum: 0, dampening: 0, nesterov: false)),
    OptimizerCase(
      spelling: "sgd(lr: 0.1, momentum: 0.9, nesterov: true)", optimizer: .sgd(lr: 0.1, momentum: 0.9, dampening: 0, nesterov: true)),
    OptimizerCase(spelling: "sgd(0.5, 0.8, 0.1)", optimizer: .sgd(lr: 0.5, momentum: 0.8, dampening: 0.1, nesterov: false)),
    OptimizerCase(spelling: "adagrad", optimizer: .adagrad(lr: 0.01, epsilon: 1e-10)),
    OptimizerCase(spelling: "adagrad(lr: 0.1, eps: 1e-8)", optimizer: .adagrad(lr: 0.1, epsilon: 1e-8)),
    OptimizerCase(spelling: "rmsprop", optimizer: .rmsprop(lr: 0.01, alpha: 0.99, epsilon: 1e-8, momentum: 0)),
    OptimizerCase(
      spelling: "rmsprop(lr: 0.001, alpha: 0.9, eps: 1e-6, momentum: 0.5)",
      optimizer: .rmsprop(lr: 0.001, alpha: 0.9, epsilon: 1e-6, momentum: 0.5)),
    OptimizerCase(spelling: "adadelta", optimizer: .adadelta(lr: 1, rho: 0.9, epsilon: 1e-6)),
    OptimizerCase(spelling: "adadelta(rho: 0.95)", optimizer: .adadelta(lr: 1, rho: 0.95, epsilon: 1e-6)),
    OptimizerCase(spelling: "adam", optimizer: .adam(lr: 0.001, beta1: 0.9, beta2: 0.999, epsilon: 1e-8, amsgrad: false)),
    OptimizerCase(
      spelling: "adam(lr: 0.01, beta1: 0.8, beta2: 0.99, eps: 1e-7, amsgrad: true)",
      optimizer: .adam(lr: 0.01, beta1: 0.8, beta2: 0.99, epsilon: 1e-7, amsgrad: true)),
    OptimizerCase(spelling: "amsgrad", optimizer: .adam(lr: 0.001, beta1: 0.9, beta2: 0.999, epsilon: 1e-8, amsgrad: true)),
    OptimizerCase(spelling: "adamw", optimizer: .adamw(lr: 0.001, beta1: 0.9, beta2: 0.999, epsilon: 1e-8, amsgrad: false)),
    OptimizerCase(spelling: "adamw(lr: 0.003)", optimizer: .adamw(lr: 0.003, beta1: 0.9, beta2: 0.999, epsilon: 1e-8, amsgrad: false)),
    OptimizerCase(spelling: "adamax", optimizer: .adamax(lr: 0.002, beta1: 0.9, beta2: 0.999, epsilon: 1e-8)),
    OptimizerCase(spelling: "nadam", optimizer: .nadam(lr: 0.002, beta1: 0.9, beta2: 0.999, epsilon: 1e-8)),
    OptimizerCase(spelling: "nadam(beta2: 0.9)", optimizer: .nadam(lr: 0.002, beta1: 0.9, beta2: 0.9, epsilon: 1e-8)),
  ]

  @Test(arguments: optimizers)
  func optimizer(_ c: OptimizerCase) {
    #expect(training("  optimizer: \(c.spelling)")?.optimizer == c.optimizer)
  }

  static let schedules: [ScheduleCase] = [
    ScheduleCase(spelling: "constant", schedule: .constant),
    ScheduleCase(spelling: "step(every: 30)", schedule: .step(stepSize: 30, gamma: 0.1)),
    ScheduleCase(spelling: "step(10, 0.5)", schedule: .step(stepSize: 10, gamma: 0.5)),
    ScheduleCase(spelling: "plateau", schedule: .plateau(factor: 0.1, patience: 10, minLR: 0)),
    ScheduleCase(spelling: "plateau(factor: 0.5, patience: 3, min_lr: 1e-5)", schedule: .plateau(factor: 0.5, patience: 3, minLR: 1e-5)),
    ScheduleCase(spelling: "cosine(t_max: 50)", schedule: .cosine(tMax: 50, minLR: 0)),
    ScheduleCase(spelling: "cosine(t_max: 50, min_lr: 0.001)", schedule: .cosine(tMax: 50, minLR: 0.001)),
  ]

  @Test(arguments: schedules)
  func schedule(_ c: ScheduleCase) {
    #expect(training("  schedule: \(c.spelling)")?.schedule == c.schedule)
  }

  @Test func defaultsOfEverySetting() throws {
    let t = try #require(training(""))
    #expect(t == TrainingConfig(loss: .softmaxCrossEntropy, prediction: NodeID(1), targetName: "labels", location: t.location))
    #expect(t.optimizer == .sgd(lr: 0.01, momentum: 0, dampening: 0, nesterov: false))
    #expect(t.regularization == Regularization())
    #expect((t.batchSize, t.epochs, t.validationSplit, t.earlyStoppingPatience, t.seed) == (32, 1, 0, nil, 0))
  }

  @Test func everySettingAtOnce() throws {
    let t = try #require(
      training(
        """
          optimizer: adam(lr: 0.001)
          weight_decay: 5e-4
          l1: 1e-5
          max_norm: 3
          decay_biases: true
          schedule: step(every: 10)
          batch: 128
          epochs: 20
          validation: 0.1
          early_stopping: 5
          seed: 42
        """))
    var regularization = Regularization()
    regularization.weightDecay = 5e-4
    regularization.l1 = 1e-5
    regularization.maxNorm = 3
    regularization.decayBiases = true
    #expect(t.regularization == regularization)
    #expect(t.schedule == .step(stepSize: 10, gamma: 0.1))
    #expect((t.batchSize, t.epochs, t.validationSplit, t.earlyStoppingPatience, t.seed) == (128, 20, 0.1, 5, 42))
  }

  @Test func settingsOnOneLineSeparatedByCommas() {
    let g = parseClean("network n\ninput x: f32[2]\noutput y <- x\ntrain { loss: mse(y, t), batch: 8, epochs: 2 }\n")
    #expect(g?.training?.batchSize == 8)
    #expect(g?.training?.epochs == 2)
  }

  @Test(arguments: LossKind.allCases)
  func lossKindsAndTheirTargetTypes(_ kind: LossKind) throws {
    let g = try #require(
      parseClean("network n\ninput x: f32[4]\ndense d (units: 4)\noutput y\ntrain {\n  loss: \(kind.rawValue)(prediction: d, target: t)\n}"))
    let dtype: DType = kind == .softmaxCrossEntropy ? .i64 : .f32
    #expect(g.inputs(role: .target).map(\.op) == [.input(Input(type: TensorType(dtype, []), role: .target))])
    #expect(g.lossNode?.op == .loss(kind))
    #expect(g.lossNode?.inputs == [NodeID(1), NodeID(2)])
    #expect(g.training?.loss == kind)
    #expect(g.training?.targetName == "t")
  }
}
