// The training API of a module built for training, called from Swift: steps, learning rate, checkpoints, weights.
import Foundation

/// What the harness needs to know of a module's training API.
public struct TrainingInterface: Hashable, Sendable {
  /// One parameter tensor in params.
  public struct Tensor: Hashable, Sendable {
    public var name: String
    /// Offset in floats from the start of params.
    public var offset: Int
    public var dims: [Int]
    public init(name: String, offset: Int, dims: [Int]) {
      self.name = name
      self.offset = offset
      self.dims = dims
    }
  }
  /// Elements of the target per sample (1 for a class label).
  public var targetSize: Int
  /// Whether targets are class indices (`int64_t`) rather than floats.
  public var classLabels: Bool
  /// Every tensor of params, for reading the weights back.
  public var parameters: [Tensor]

  public init(targetSize: Int, classLabels: Bool, parameters: [Tensor]) {
    self.targetSize = targetSize
    self.classLabels = classLabels
    self.parameters = parameters
  }
}

/// The targets of one training step: class indices for the classification losses, floats for the others.
public enum TrainingTargets: Sendable {
  case classes([Int64])
  case values([Float])
}

extension CompiledModel {
  private typealias TrainStepAll =
    @convention(c) (
      OpaquePointer?, UnsafePointer<UnsafePointer<Float>?>?, UnsafeRawPointer?, Int32, UnsafeMutablePointer<Float>?
    ) -> Int32
  private typealias SetLR = @convention(c) (OpaquePointer?, Float) -> Int32
  private typealias GetLR = @convention(c) (OpaquePointer?) -> Float
  private typealias SetSeed = @convention(c) (OpaquePointer?, UInt64) -> Int32
  private typealias StepCount = @convention(c) (OpaquePointer?) -> Int64
  private typealias Params = @convention(c) (OpaquePointer?) -> UnsafePointer<Float>?
  private typealias PathCall = @convention(c) (OpaquePointer?, UnsafePointer<CChar>?) -> Int32

  /// The training interface, or a clear error for a module built without training.
  func trainingInterface() throws -> TrainingInterface {
    guard let t = interface.training else {
      throw ModelError(code: -2, message: "\(interface.name) was built without training (kiln compile --train)")
    }
    return t
  }

  /// One training step on `n` samples (forward, loss, backward, every optimizer update); returns the batch's
  /// mean loss before the update. `inputs[i]` holds n × inputs[i].size floats; `targets` n class indices or
  /// n × targetSize floats, as the module's loss takes them.
  public func trainStep(inputs: [[Float]], targets: TrainingTargets, n: Int) throws -> Float {
    let t = try trainingInterface()
    guard inputs.count == interface.inputs.count else {
      throw ModelError(
        code: -1, message: "\(interface.name) takes \(interface.inputs.count) inputs, got \(inputs.count)")
    }
    for (x, spec) in zip(inputs, interface.inputs) where x.count != n * spec.size {
      throw ModelError(code: -1, message: "input '\(spec.name)' has \(x.count) floats, expected \(n) × \(spec.size)")
    }
    var loss: Float = .nan
    let rc: Int32 = try library.withSymbol("\(interface.name)_train_step_all", as: TrainStepAll.self) { f in
      try withPointers(inputs) { ins in
        switch targets {
        case .classes(let labels):
          guard t.classLabels, labels.count == n else {
            throw ModelError(
              code: -1,
              message:
                "\(interface.name) takes \(t.classLabels ? "\(n) class indices" : "float targets"), got \(labels.count) class indices"
            )
          }
          return labels.withUnsafeBytes { f(context, ins, $0.baseAddress, Int32(n), &loss) }
        case .values(let values):
          guard !t.classLabels, values.count == n * t.targetSize else {
            throw ModelError(
              code: -1,
              message:
                "\(interface.name) takes \(t.classLabels ? "class indices" : "\(n) × \(t.targetSize) floats"), got \(values.count) floats"
            )
          }
          return values.withUnsafeBytes { f(context, ins, $0.baseAddress, Int32(n), &loss) }
        }
      }
    }
    try check(rc)
    return loss
  }

  /// The learning rate of the next steps.
  public func setLearningRate(_ lr: Float) throws {
    _ = try trainingInterface()
    try check(try library.withSymbol("\(interface.name)_set_lr", as: SetLR.self) { $0(context, lr) })
  }

  /// The learning rate the next step uses.
  public func learningRate() throws -> Float {
    _ = try trainingInterface()
    return try library.withSymbol("\(interface.name)_get_lr", as: GetLR.self) { $0(context) }
  }

  /// The base seed of the dropout masks.
  public func setSeed(_ seed: UInt64) throws {
    _ = try trainingInterface()
    try check(try library.withSymbol("\(interface.name)_set_seed", as: SetSeed.self) { $0(context, seed) })
  }

  /// How many training steps the context has taken.
  public func stepCount() throws -> Int {
    _ = try trainingInterface()
    return Int(try library.withSymbol("\(interface.name)_step_count", as: StepCount.self) { $0(context) })
  }

  /// Writes weights, optimizer state, step, learning rate and seed to `path` as safetensors, atomically.
  public func saveCheckpoint(_ path: String) throws { try pathCall("save", path) }

  /// Text every later checkpoint carries as `__metadata__` `kiln.note` (nil: none); `loadCheckpoint` ignores it.
  public func setCheckpointNote(_ text: String?) throws {
    _ = try trainingInterface()
    let rc = try library.withSymbol("\(interface.name)_set_checkpoint_note", as: PathCall.self) { f in
      guard let text else { return f(context, nil) }
      return text.withCString { f(context, $0) }
    }
    try check(rc)
  }

  /// Restores everything `saveCheckpoint` wrote; on failure the context is unchanged.
  public func loadCheckpoint(_ path: String) throws { try pathCall("load_checkpoint", path) }

  private func pathCall(_ function: String, _ path: String) throws {
    _ = try trainingInterface()
    let rc = try library.withSymbol("\(interface.name)_\(function)", as: PathCall.self) { f in
      path.withCString { f(context, $0) }
    }
    try check(rc)
  }

  /// Every parameter tensor of the context as it is now (after the steps taken), by name, in PyTorch's layouts.
  public func parameters() throws -> [String: [Float]] {
    let t = try trainingInterface()
    let base = try library.withSymbol("\(interface.name)_params", as: Params.self) { $0(context) }
    guard let base else { throw ModelError(code: -15, message: "\(interface.name): no weights are loaded") }
    var result: [String: [Float]] = [:]
    for tensor in t.parameters {
      let count = tensor.dims.reduce(1, *)
      result[tensor.name] = Array(UnsafeBufferPointer(start: base + tensor.offset, count: count))
    }
    return result
  }
}
