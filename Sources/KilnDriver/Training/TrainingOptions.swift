// What `kiln train` is asked to do, and how its flags override the spec's train section.
import KilnData
import KilnIR

/// The options of a training run; every nil setting keeps the spec's train section.
public struct TrainingOptions: Sendable {
  /// Where the samples come from.
  public var data: DataSource
  /// `--epochs`: the number of epochs (counted from the start, also when resuming).
  public var epochs: Int?
  /// `--batch`: samples per step.
  public var batch: Int?
  /// `--optimizer`: a new optimizer by name, with PyTorch's defaults for what is not given.
  public var optimizer: String?
  /// `--lr`: the learning rate.
  public var learningRate: Double?
  /// `--momentum`: momentum of sgd or rmsprop.
  public var momentum: Double?
  /// `--weight-decay`: the L2 penalty (decoupled for adamw).
  public var weightDecay: Double?
  /// `--seed`: initialization, shuffling, validation split and dropout.
  public var seed: UInt64?
  /// `--validation-split`: the fraction of the training samples held out.
  public var validationSplit: Double?
  /// `--limit`: train on the first N training samples only.
  public var limit: Int?
  /// The test samples of the final metrics (all when nil).
  public var testLimit: Int?
  /// `--resume`: a checkpoint to continue from.
  public var resume: String?
  /// `--checkpoint-dir`: where `last.safetensors` and `best.safetensors` go.
  public var checkpointDirectory = "checkpoints"
  /// `--out`: the best weights as safetensors with PyTorch's names.
  public var out: String?
  /// `--plot`: the SVG curve of losses and validation accuracy.
  public var plot: String?
  /// `--metrics`: the run's history and final metrics as JSON.
  public var metrics: String?
  /// `--threads`: OpenMP threads of the steps (the module's default when nil).
  public var threads: Int?
  /// How the training module is built (its max batch is set to the batch size).
  public var compile = CompileOptions()

  /// Options reading `data`, everything else from the spec.
  public init(data: DataSource) { self.data = data }

  /// The spec's train section with the flags applied. Throws for a network without one or a bad value.
  public func resolve(_ spec: TrainingConfig?) throws -> TrainingConfig {
    guard var config = spec else {
      throw TrainingError("the network has no train section; add `train { loss: … }` to say what it learns")
    }
    if let epochs {
      guard epochs >= 1 else { throw TrainingError("--epochs \(epochs); expected at least 1") }
      config.epochs = epochs
    }
    if let batch {
      guard batch >= 1 else { throw TrainingError("--batch \(batch); expected at least 1") }
      config.batchSize = batch
    }
    if let seed { config.seed = seed }
    if let validationSplit {
      guard validationSplit >= 0, validationSplit < 1 else {
        throw TrainingError("--validation-split \(validationSplit); expected a fraction in [0, 1)")
      }
      config.validationSplit = validationSplit
    }
    if let weightDecay {
      guard weightDecay >= 0, weightDecay.isFinite else {
        throw TrainingError("--weight-decay \(weightDecay); expected a finite number ≥ 0")
      }
      config.regularization.weightDecay = weightDecay
    }
    if let optimizer { config.optimizer = try Self.optimizer(named: optimizer) }
    if let learningRate {
      guard learningRate > 0, learningRate.isFinite else {
        throw TrainingError("--lr \(learningRate); expected a finite number > 0")
      }
      config.optimizer = config.optimizer.with(learningRate: learningRate)
    }
    if let momentum {
      guard momentum >= 0, momentum.isFinite else {
        throw TrainingError("--momentum \(momentum); expected a number ≥ 0")
      }
      config.optimizer = try config.optimizer.with(momentum: momentum)
    }
    return config
  }

  /// The optimizer `name` with PyTorch's defaults, as the train section reads it.
  static func optimizer(named name: String) throws -> Optimizer {
    switch name {
    case "sgd": return .sgd(lr: 0.01, momentum: 0, dampening: 0, nesterov: false)
    case "adagrad": return .adagrad(lr: 0.01, epsilon: 1e-10)
    case "rmsprop": return .rmsprop(lr: 0.01, alpha: 0.99, epsilon: 1e-8, momentum: 0)
    case "adadelta": return .adadelta(lr: 1.0, rho: 0.9, epsilon: 1e-6)
    case "adam", "amsgrad": return .adam(lr: 0.001, beta1: 0.9, beta2: 0.999, epsilon: 1e-8, amsgrad: name == "amsgrad")
    case "adamw": return .adamw(lr: 0.001, beta1: 0.9, beta2: 0.999, epsilon: 1e-8, amsgrad: false)
    case "adamax": return .adamax(lr: 0.002, beta1: 0.9, beta2: 0.999, epsilon: 1e-8)
    case "nadam": return .nadam(lr: 0.002, beta1: 0.9, beta2: 0.999, epsilon: 1e-8)
    default:
      throw TrainingError(
        "--optimizer \(name): unknown optimizer; expected one of sgd, adagrad, rmsprop, adadelta, adam, amsgrad, "
          + "adamw, adamax, nadam")
    }
  }
}

extension Optimizer {
  /// The same optimizer at learning rate `lr`.
  func with(learningRate lr: Double) -> Optimizer {
    switch self {
    case .sgd(_, let m, let d, let n): return .sgd(lr: lr, momentum: m, dampening: d, nesterov: n)
    case .adagrad(_, let e): return .adagrad(lr: lr, epsilon: e)
    case .rmsprop(_, let a, let e, let m): return .rmsprop(lr: lr, alpha: a, epsilon: e, momentum: m)
    case .adadelta(_, let r, let e): return .adadelta(lr: lr, rho: r, epsilon: e)
    case .adam(_, let b1, let b2, let e, let a): return .adam(lr: lr, beta1: b1, beta2: b2, epsilon: e, amsgrad: a)
    case .adamw(_, let b1, let b2, let e, let a): return .adamw(lr: lr, beta1: b1, beta2: b2, epsilon: e, amsgrad: a)
    case .adamax(_, let b1, let b2, let e): return .adamax(lr: lr, beta1: b1, beta2: b2, epsilon: e)
    case .nadam(_, let b1, let b2, let e): return .nadam(lr: lr, beta1: b1, beta2: b2, epsilon: e)
    }
  }

  /// The same optimizer with momentum `m`; only sgd and rmsprop have one.
  func with(momentum m: Double) throws -> Optimizer {
    switch self {
    case .sgd(let lr, _, let d, let n):
      guard !n || m > 0 else { throw TrainingError("--momentum 0 with Nesterov sgd; expected momentum > 0") }
      return .sgd(lr: lr, momentum: m, dampening: d, nesterov: n)
    case .rmsprop(let lr, let a, let e, _): return .rmsprop(lr: lr, alpha: a, epsilon: e, momentum: m)
    default: throw TrainingError("--momentum: \(name) has no momentum; expected --optimizer sgd or rmsprop")
    }
  }
}
