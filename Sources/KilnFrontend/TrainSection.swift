// Reading the train section: loss, optimizer, regularization, schedule and run settings, all checked.

import KilnIR

/// The train section with its names not yet resolved to nodes.
struct TrainSettings {
  var loss: LossKind
  /// The value the loss reads: an output name or a value name.
  var prediction: Name
  /// The new name of the target input.
  var target: Name
  var optimizer: Optimizer
  var regularization: Regularization
  var schedule: Schedule
  var batchSize: Int
  var epochs: Int
  var validationSplit: Double
  var earlyStoppingPatience: Int?
  var seed: UInt64
  /// Where the train section starts.
  var location: SourceLocation
  /// Where the loss is written; the loss node points here.
  var lossLocation: SourceLocation
}

enum TrainSection {
  /// Every setting of the section, in documentation order.
  static let keys = [
    "loss", "optimizer", "weight_decay", "l1", "max_norm", "decay_biases", "schedule", "batch", "epochs",
    "validation", "early_stopping", "seed",
  ]
  static let optimizers = ["sgd", "adagrad", "rmsprop", "adadelta", "adam", "amsgrad", "adamw", "adamax", "nadam"]
  static let schedules = ["constant", "step(every, gamma)", "plateau(factor, patience, min_lr)", "cosine(t_max, min_lr)"]

  /// Reads and checks a train section. Returns nil settings when anything in it is wrong.
  static func read(_ s: TrainStatement) -> (TrainSettings?, [Diagnostic]) {
    var r = Arguments(
      s.entries.map { Argument(key: $0.key, value: $0.value) }, of: "the train section", noun: "setting",
      parameters: keys, at: s.location)
    var loss: (kind: LossKind, prediction: Name, target: Name)?
    if let v = r.value("loss") {
      loss = readLoss(v, &r)
    } else if !s.isBroken {
      r.fail(s.location, "the train section has no 'loss'", expected: "'loss: softmax_cross_entropy(PREDICTION, TARGET)'")
    }
    let optimizer = r.value("optimizer").map { readOptimizer($0, &r) } ?? .sgd(lr: 0.01, momentum: 0, dampening: 0, nesterov: false)
    var regularization = Regularization()
    let weightDecay = r.double("weight_decay", default: 0, .nonNegative)
    let l1 = r.double("l1", default: 0, .nonNegative)
    // Optional settings: .some(nil) when absent, nil when given but wrong.
    var maxNorm: Double?? = .some(nil)
    if r.value("max_norm") != nil { maxNorm = r.double("max_norm", default: nil, .positive).map { Optional($0) } }
    let decayBiases = r.bool("decay_biases", default: false)
    let schedule = r.value("schedule").map { readSchedule($0, &r) } ?? .constant
    let batch = r.int("batch", default: 32, .positive)
    let epochs = r.int("epochs", default: 1, .positive)
    let validation = r.double("validation", default: 0, .rate)
    var patience: Int?? = .some(nil)
    if r.value("early_stopping") != nil { patience = r.int("early_stopping", default: nil, .positive).map { Optional($0) } }
    let seed = r.int("seed", default: 0, .nonNegative)
    guard !s.isBroken, let loss, let optimizer, let weightDecay, let l1, let maxNorm, let decayBiases, let schedule,
      let batch, let epochs, let validation, let patience, let seed
    else { return (nil, r.diagnostics) }
    regularization.weightDecay = weightDecay
    regularization.l1 = l1
    regularization.maxNorm = maxNorm
    regularization.decayBiases = decayBiases
    let settings = TrainSettings(
      loss: loss.kind, prediction: loss.prediction, target: loss.target, optimizer: optimizer,
      regularization: regularization, schedule: schedule, batchSize: batch, epochs: epochs, validationSplit: validation,
      earlyStoppingPatience: patience, seed: UInt64(seed), location: s.location,
      lossLocation: r.value("loss")?.location ?? s.location)
    return (r.diagnostics.isEmpty ? settings : nil, r.diagnostics)
  }

  /// `softmax_cross_entropy(PRED, TARGET)` and the other losses.
  private static func readLoss(_ v: Value, _ r: inout Arguments) -> (LossKind, Name, Name)? {
    let names = LossKind.allCases.map(\.rawValue)
    let expected = "a loss: " + names.map { "\($0)(PREDICTION, TARGET)" }.joined(separator: ", ")
    guard let written = r.call(v, for: "loss", expected: expected) else { return nil }
    let (callee, arguments) = (written.callee, written.arguments)
    guard let kind = LossKind(rawValue: callee) else { return r.unknown(v, callee, for: "loss", choices: names) }
    var result: (LossKind, Name, Name)?
    r.nested(arguments, of: callee, parameters: ["prediction", "target"], at: v.location) {
      let prediction = $0.identifier("prediction")
      let target = $0.identifier("target")
      if let prediction, let target { result = (kind, prediction, target) }
    }
    return result
  }

  private static func readOptimizer(_ v: Value, _ r: inout Arguments) -> Optimizer? {
    let expected = "an optimizer: \(optimizers.joined(separator: ", "))"
    guard let written = r.call(v, for: "optimizer", expected: expected) else { return nil }
    let (callee, arguments) = (written.callee, written.arguments)
    let adamFamily = ["lr", "beta1", "beta2", "eps"]
    let parameters: [String: [String]] = [
      "sgd": ["lr", "momentum", "dampening", "nesterov"], "adagrad": ["lr", "eps"],
      "rmsprop": ["lr", "alpha", "eps", "momentum"], "adadelta": ["lr", "rho", "eps"],
      "adam": adamFamily + ["amsgrad"], "amsgrad": adamFamily, "adamw": adamFamily + ["amsgrad"],
      "adamax": adamFamily, "nadam": adamFamily,
    ]
    guard let accepted = parameters[callee] else { return r.unknown(v, callee, for: "optimizer", choices: optimizers) }
    var result: Optimizer?
    r.nested(arguments, of: callee, parameters: accepted, at: v.location) { a in
      func lr(_ d: Double) -> Double? { a.double("lr", default: d, .positive) }
      func betas() -> (Double, Double, Double)? {
        let b1 = a.double("beta1", default: 0.9, .rate)
        let b2 = a.double("beta2", default: 0.999, .rate)
        let eps = a.double("eps", default: 1e-8, .positive)
        guard let b1, let b2, let eps else { return nil }
        return (b1, b2, eps)
      }
      switch callee {
      case "sgd":
        let rate = lr(0.01)
        let momentum = a.double("momentum", default: 0, .nonNegative)
        let dampening = a.double("dampening", default: 0, .nonNegative)
        let nesterov = a.bool("nesterov", default: false)
        guard let rate, let momentum, let dampening, let nesterov else { return }
        if nesterov && (momentum <= 0 || dampening != 0) {
          a.fail(v.location, "sgd with nesterov: true has momentum \(formatNumber(momentum)) and dampening \(formatNumber(dampening))",
            expected: "momentum > 0 and dampening 0 for Nesterov momentum")
          return
        }
        result = .sgd(lr: rate, momentum: momentum, dampening: dampening, nesterov: nesterov)
      case "adagrad":
        let rate = lr(0.01)
        let eps = a.double("eps", default: 1e-10, .positive)
        if let rate, let eps { result = .adagrad(lr: rate, epsilon: eps) }
      case "rmsprop":
        let rate = lr(0.01)
        let alpha = a.double("alpha", default: 0.99, .rate)
        let eps = a.double("eps", default: 1e-8, .positive)
        let momentum = a.double("momentum", default: 0, .nonNegative)
        if let rate, let alpha, let eps, let momentum { result = .rmsprop(lr: rate, alpha: alpha, epsilon: eps, momentum: momentum) }
      case "adadelta":
        let rate = lr(1.0)
        let rho = a.double("rho", default: 0.9, .closedUnit)
        let eps = a.double("eps", default: 1e-6, .positive)
        if let rate, let rho, let eps { result = .adadelta(lr: rate, rho: rho, epsilon: eps) }
      case "adam", "amsgrad", "adamw":
        let rate = lr(0.001)
        let b = betas()
        let ams = callee == "amsgrad" ? true : a.bool("amsgrad", default: false)
        guard let rate, let b, let ams else { return }
        result = callee == "adamw"
          ? .adamw(lr: rate, beta1: b.0, beta2: b.1, epsilon: b.2, amsgrad: ams)
          : .adam(lr: rate, beta1: b.0, beta2: b.1, epsilon: b.2, amsgrad: ams)
      default:  // adamax, nadam
        let rate = lr(0.002)
        let b = betas()
        guard let rate, let b else { return }
        result = callee == "adamax"
          ? .adamax(lr: rate, beta1: b.0, beta2: b.1, epsilon: b.2) : .nadam(lr: rate, beta1: b.0, beta2: b.1, epsilon: b.2)
      }
    }
    return result
  }

  private static func readSchedule(_ v: Value, _ r: inout Arguments) -> Schedule? {
    let expected = "a schedule: \(schedules.joined(separator: ", "))"
    guard let written = r.call(v, for: "schedule", expected: expected) else { return nil }
    let (callee, arguments) = (written.callee, written.arguments)
    let parameters: [String: [String]] = [
      "constant": [], "step": ["every", "gamma"], "plateau": ["factor", "patience", "min_lr"], "cosine": ["t_max", "min_lr"],
    ]
    guard let accepted = parameters[callee] else { return r.unknown(v, callee, for: "schedule", choices: schedules) }
    var result: Schedule?
    r.nested(arguments, of: callee, parameters: accepted, at: v.location) { a in
      switch callee {
      case "constant":
        result = .constant
      case "step":
        let every = a.int("every", default: nil, .positive)
        let gamma = a.double("gamma", default: 0.1, .positive)
        if let every, let gamma { result = .step(stepSize: every, gamma: gamma) }
      case "plateau":
        let factor = a.double("factor", default: 0.1, .openUnit)
        let patience = a.int("patience", default: 10, .nonNegative)
        let minLR = a.double("min_lr", default: 0, .nonNegative)
        if let factor, let patience, let minLR { result = .plateau(factor: factor, patience: patience, minLR: minLR) }
      default:  // cosine
        let tMax = a.int("t_max", default: nil, .positive)
        let minLR = a.double("min_lr", default: 0, .nonNegative)
        if let tMax, let minLR { result = .cosine(tMax: tMax, minLR: minLR) }
      }
    }
    return result
  }
}
