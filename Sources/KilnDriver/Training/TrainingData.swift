// The samples `kiln train` learns from: Fashion-MNIST or a CSV table, split, standardized and checked against the net.
import KilnData
import KilnIR

/// Where `kiln train` reads its samples (`--data fashion-mnist` or `--data csv:FILE`).
public enum DataSource: Hashable, Sendable {
  /// Fashion-MNIST's IDX files in `directory` (Debian's dataset-fashion-mnist by default).
  case fashionMNIST(directory: String)
  /// A CSV table whose column `target` is the target and every other column a numeric feature.
  case csv(path: String, target: String)

  /// Reads `--data` (and `--target` for CSV). Throws a clear error for anything else.
  public init(argument: String, target: String?) throws {
    if argument == "fashion-mnist" {
      self = .fashionMNIST(directory: FashionMNIST.defaultDirectory)
    } else if argument.hasPrefix("csv:") {
      let path = String(argument.dropFirst(4))
      guard !path.isEmpty else { throw TrainingError("--data csv: names no file; expected csv:FILE") }
      guard let target else {
        throw TrainingError("--data \(argument) needs --target COLUMN: the column the network predicts")
      }
      self = .csv(path: path, target: target)
    } else {
      throw TrainingError("--data \(argument): unknown data source; expected fashion-mnist or csv:FILE")
    }
  }

  /// A short name for reports.
  public var name: String {
    switch self {
    case .fashionMNIST: return "fashion-mnist"
    case .csv(let path, _): return path
    }
  }
}

/// Samples with their targets: inputs [N, …] and class labels or float targets.
public struct LabeledSamples: Hashable, Sendable {
  /// What a sample's target is.
  public enum Targets: Hashable, Sendable {
    /// Class labels, i64 [N].
    case classes(IntTensor)
    /// Float targets, f32 [N, size].
    case values(Tensor)
  }
  /// f32 [N, …] network inputs.
  public var inputs: Tensor
  /// One target per sample.
  public var targets: Targets

  /// The number of samples N.
  public var count: Int { inputs.shape.first ?? 0 }

  /// The samples at `indices`, in that order.
  public func subset(_ indices: some Collection<Int>) throws -> LabeledSamples {
    switch targets {
    case .classes(let labels):
      return LabeledSamples(inputs: try inputs.samples(at: indices), targets: .classes(try labels.samples(at: indices)))
    case .values(let values):
      return LabeledSamples(inputs: try inputs.samples(at: indices), targets: .values(try values.samples(at: indices)))
    }
  }

  /// The targets as the loss takes them.
  var lossTarget: AnyTensor {
    switch targets {
    case .classes(let labels): return .i64(labels)
    case .values(let values): return .f32(values)
    }
  }
}

/// A dataset ready to train on: the training samples with their training and validation parts, and the samples of
/// the final evaluation.
public struct TrainingData: Sendable {
  /// Every training sample (standardized for CSV); `trainingIndices` and `validationIndices` pick from it.
  public var samples: LabeledSamples
  /// The samples trained on, shuffled once with the seed.
  public var trainingIndices: [Int]
  /// The held-out samples of the validation loss and accuracy (the last part of the shuffled order).
  public var validationIndices: [Int]
  /// The samples of the final metrics: Fashion-MNIST's test split; for CSV, which has none, the validation part
  /// (or the training part when there is no validation part).
  public var evaluation: LabeledSamples
  /// What `evaluation` is, for reports: "test", "validation" or "training".
  public var evaluationName: String
  /// The class names of a classification task, else nil.
  public var classNames: [String]?

  /// Loads `source` for a network trained with `loss`.
  ///
  /// The training samples (the first `limit` when given) are shuffled with `seed` — with the stream of epoch −1,
  /// apart from every epoch's own order — and the last `validationFraction` of that order is held out. CSV features
  /// are standardized with statistics of the training part only. `testLimit` caps the Fashion-MNIST test split.
  public static func load(
    _ source: DataSource, loss: LossKind, validationFraction: Double, seed: UInt64, limit: Int? = nil,
    testLimit: Int? = nil
  ) throws -> TrainingData {
    if let limit, limit < 1 { throw TrainingError("--limit \(limit); expected at least 1 training sample") }
    if let testLimit, testLimit < 1 {
      throw TrainingError("--test-limit \(testLimit); expected at least 1 test sample")
    }
    switch source {
    case .fashionMNIST(let directory):
      guard loss == .softmaxCrossEntropy else {
        throw TrainingError(
          "Fashion-MNIST has class labels, but the network's loss is \(loss.rawValue); "
            + "expected softmax_cross_entropy(PREDICTION, TARGET)")
      }
      let train = try FashionMNIST.load(.train, directory: directory, limit: limit)
      let test = try FashionMNIST.load(.test, directory: directory, limit: testLimit)
      let (training, validation) = try split(train.count, validationFraction, seed)
      return TrainingData(
        samples: LabeledSamples(inputs: train.images, targets: .classes(train.labels)), trainingIndices: training,
        validationIndices: validation,
        evaluation: LabeledSamples(inputs: test.images, targets: .classes(test.labels)), evaluationName: "test",
        classNames: train.classNames)
    case .csv(let path, let target):
      let task: TabularTask = loss == .softmaxCrossEntropy ? .classification : .regression
      var table = try TabularDataset.load(csv: path, target: target, task: task)
      if let limit, limit < table.count {
        table.features = try table.features.samples(at: 0..<limit)
        switch table.target {
        case .values(let v): table.target = .values(try v.samples(at: 0..<limit))
        case .classes(let c, let names): table.target = .classes(try c.samples(at: 0..<limit), classNames: names)
        }
      }
      let (training, validation) = try split(table.count, validationFraction, seed)
      guard !training.isEmpty else {
        throw TrainingError("\(path): no sample is left to train on after the validation split")
      }
      let scaling = try Standardization(fitting: try table.features.samples(at: training))
      let inputs = try scaling.applied(to: table.features)
      var samples: LabeledSamples
      var classNames: [String]?
      switch table.target {
      case .values(let v): samples = LabeledSamples(inputs: inputs, targets: .values(v))
      case .classes(let c, let names):
        samples = LabeledSamples(inputs: inputs, targets: .classes(c))
        classNames = names
      }
      let held = validation.isEmpty ? training : validation
      return TrainingData(
        samples: samples, trainingIndices: training, validationIndices: validation,
        evaluation: try samples.subset(held), evaluationName: validation.isEmpty ? "training" : "validation",
        classNames: classNames)
    }
  }

  private static func split(_ count: Int, _ fraction: Double, _ seed: UInt64) throws -> ([Int], [Int]) {
    try SampleOrder.split(SampleOrder.shuffled(count: count, seed: seed, epoch: -1), validationFraction: fraction)
  }

  /// Checks that each sample fits the network's one data input and its target fits the loss.
  func check(against graph: Graph, targetSize: Int, classLabels: Bool) throws {
    let inputs = graph.inputs(role: .data)
    guard inputs.count == 1, let type = inputs[0].type else {
      throw TrainingError("\(graph.name) has \(inputs.count) data inputs; kiln train feeds networks with exactly one")
    }
    let width = samples.count == 0 ? 0 : samples.inputs.count / samples.count
    guard width == type.elementCount else {
      throw TrainingError(
        "each sample has \(width) values (shape \(Array(samples.inputs.shape.dropFirst()))), but input '\(inputs[0].name)' "
          + "of \(graph.name) takes \(type.elementCount) (shape \(type.dims))")
    }
    switch samples.targets {
    case .classes(let labels):
      guard classLabels else { throw TrainingError("the data has class labels, but the loss takes float targets") }
      if let classNames, let prediction = graph.training.map({ graph[$0.prediction] }),
        let classes = prediction.type?.elementCount, classNames.count > classes
      {
        let worst = labels.data.max() ?? 0
        throw TrainingError(
          "the data has \(classNames.count) classes (labels up to \(worst)), but '\(prediction.name)' scores \(classes)"
        )
      }
    case .values(let values):
      let size = values.shape.dropFirst().reduce(1, *)
      guard !classLabels, size == targetSize else {
        throw TrainingError(
          classLabels
            ? "the loss takes class labels, but the data's targets are floats"
            : "each target has \(size) values, but the loss compares \(targetSize) per sample")
      }
    }
  }
}

/// A clear error of `kiln train`: bad flags, data that does not fit the network, a diverged loss.
public struct TrainingError: Error, Hashable, Sendable, CustomStringConvertible {
  /// What went wrong and what was expected.
  public var message: String
  /// An error saying `message`.
  public init(_ message: String) { self.message = message }
  /// The message.
  public var description: String { message }
}
