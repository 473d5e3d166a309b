// The training section of a spec: checked now, run by the trainer of a later issue.

/// Optimizer with its hyper-parameters; defaults are PyTorch's.
public enum Optimizer: Hashable, Sendable {
  case sgd(lr: Double, momentum: Double, dampening: Double, nesterov: Bool)
  case adagrad(lr: Double, epsilon: Double)
  case rmsprop(lr: Double, alpha: Double, epsilon: Double, momentum: Double)
  case adadelta(lr: Double, rho: Double, epsilon: Double)
  case adam(lr: Double, beta1: Double, beta2: Double, epsilon: Double, amsgrad: Bool)
  case adamw(lr: Double, beta1: Double, beta2: Double, epsilon: Double, amsgrad: Bool)
  case adamax(lr: Double, beta1: Double, beta2: Double, epsilon: Double)
  case nadam(lr: Double, beta1: Double, beta2: Double, epsilon: Double)

  public var name: String {
    switch self {
    case .sgd: return "sgd"
    case .adagrad: return "adagrad"
    case .rmsprop: return "rmsprop"
    case .adadelta: return "adadelta"
    case .adam(_, _, _, _, let ams): return ams ? "amsgrad" : "adam"
    case .adamw: return "adamw"
    case .adamax: return "adamax"
    case .nadam: return "nadam"
    }
  }

  public var learningRate: Double {
    switch self {
    case .sgd(let lr, _, _, _), .adagrad(let lr, _), .rmsprop(let lr, _, _, _), .adadelta(let lr, _, _),
      .adam(let lr, _, _, _, _), .adamw(let lr, _, _, _, _), .adamax(let lr, _, _, _), .nadam(let lr, _, _, _):
      return lr
    }
  }
}

/// Learning-rate schedule.
public enum Schedule: Hashable, Sendable {
  case constant
  /// Multiply by `gamma` every `stepSize` epochs (StepLR).
  case step(stepSize: Int, gamma: Double)
  /// Multiply by `factor` when the monitored metric has not improved for `patience` epochs (ReduceLROnPlateau).
  case plateau(factor: Double, patience: Int, minLR: Double)
  /// Cosine annealing from the initial rate to `minLR` over `tMax` epochs (CosineAnnealingLR).
  case cosine(tMax: Int, minLR: Double)
}

/// Regularization applied by the optimizer step.
public struct Regularization: Hashable, Sendable {
  /// L2 penalty coefficient (coupled weight decay; decoupled for adamw).
  public var weightDecay: Double = 0
  /// L1 penalty coefficient.
  public var l1: Double = 0
  /// Max-norm constraint on each output unit's incoming weights; nil for none.
  public var maxNorm: Double? = nil
  /// Whether decay also applies to biases and batch-norm parameters (default: no).
  public var decayBiases: Bool = false
  public init() {}
}

/// Everything the training section says.
public struct TrainingConfig: Hashable, Sendable {
  public var loss: LossKind
  /// The value the loss reads (an output's node).
  public var prediction: NodeID
  /// The name of the target input the loss compares against (e.g. `labels`).
  public var targetName: String
  public var optimizer: Optimizer
  public var regularization: Regularization
  public var schedule: Schedule
  public var batchSize: Int
  public var epochs: Int
  /// Fraction of the training data held out for validation, in [0, 1).
  public var validationSplit: Double
  /// Stop after this many epochs without improvement of the validation loss; nil for never.
  public var earlyStoppingPatience: Int?
  /// Seed for initialization, shuffling and dropout.
  public var seed: UInt64
  public var location: SourceLocation?

  public init(
    loss: LossKind, prediction: NodeID, targetName: String,
    optimizer: Optimizer = .sgd(lr: 0.01, momentum: 0, dampening: 0, nesterov: false),
    regularization: Regularization = Regularization(), schedule: Schedule = .constant, batchSize: Int = 32,
    epochs: Int = 1, validationSplit: Double = 0, earlyStoppingPatience: Int? = nil, seed: UInt64 = 0,
    location: SourceLocation? = nil
  ) {
    self.loss = loss
    self.prediction = prediction
    self.targetName = targetName
    self.optimizer = optimizer
    self.regularization = regularization
    self.schedule = schedule
    self.batchSize = batchSize
    self.epochs = epochs
    self.validationSplit = validationSplit
    self.earlyStoppingPatience = earlyStoppingPatience
    self.seed = seed
    self.location = location
  }
}
