// A model's named parameter tensors: loading, saving and checking them against the graph's parameter specs.

import KilnIR

/// A problem with a set of weights, as `Weights.validate(against:)` reports it.
public enum WeightError: Error, Hashable, Sendable, CustomStringConvertible {
  /// The graph needs a tensor the weights lack.
  case missing(name: String, expectedShape: [Int])
  /// The weights hold a tensor the graph has no use for.
  case unexpected(name: String, shape: [Int])
  /// The tensor's shape is not the one the graph needs.
  case shapeMismatch(name: String, expected: [Int], found: [Int])
  /// The tensor holds integers where the graph needs floats.
  case notFloat(name: String, dtype: DType)
  /// Two tensors carry the same name.
  case duplicate(name: String)

  /// One line naming the tensor, what was expected and what was found.
  public var description: String {
    switch self {
    case .missing(let name, let shape):
      return "missing tensor '\(name)' of shape \(shapeText(shape))"
    case .unexpected(let name, let shape):
      return "unexpected tensor '\(name)' of shape \(shapeText(shape)): the graph has no parameter of that name"
    case .shapeMismatch(let name, let expected, let found):
      let hint = expected.count == 2 && found == expected.reversed() ? " (transposed?)" : ""
      return "tensor '\(name)' has shape \(shapeText(found)), expected \(shapeText(expected))\(hint)"
    case .notFloat(let name, let dtype):
      return "tensor '\(name)' holds \(dtype.rawValue), expected f32"
    case .duplicate(let name):
      return "tensor '\(name)' appears twice"
    }
  }

  /// The problem as an error diagnostic, for reporting beside spec diagnostics.
  public var diagnostic: Diagnostic { Diagnostic(.error, at: nil, description) }
}

/// Every problem `Weights.validate(against:)` found, thrown together.
public struct WeightValidationError: Error, Hashable, Sendable, CustomStringConvertible {
  /// Where the weights came from, e.g. their file.
  public var source: String
  /// The problems, in the order `validate(against:)` reports them.
  public var problems: [WeightError]

  /// `source: problem` per line.
  public var description: String { problems.map { "\(source): \($0)" }.joined(separator: "\n") }
}

/// An ordered collection of named tensors: a model's parameters and buffers, like a PyTorch state_dict.
public struct Weights: Hashable, Sendable {
  /// The tensors in order (file order when loaded, insertion order otherwise).
  public private(set) var entries: [NamedTensor] = []
  private var positions: [String: Int] = [:]
  /// Free-form string metadata, saved in the safetensors header.
  public var metadata: [String: String] = [:]

  /// No tensors.
  public init() {}

  /// The given tensors, in order; names must be unique.
  public init(_ entries: [NamedTensor], metadata: [String: String] = [:]) throws(WeightError) {
    for e in entries {
      guard positions[e.name] == nil else { throw .duplicate(name: e.name) }
      positions[e.name] = self.entries.count
      self.entries.append(e)
    }
    self.metadata = metadata
  }

  /// The tensor names, in order.
  public var names: [String] { entries.map(\.name) }

  /// The number of tensors.
  public var count: Int { entries.count }

  /// The tensor called `name`. Setting replaces it in place, appends a new name, or removes it (nil).
  public subscript(name: String) -> AnyTensor? {
    get { positions[name].map { entries[$0].tensor } }
    set {
      switch (positions[name], newValue) {
      case (let i?, let t?): entries[i].tensor = t
      case (nil, let t?):
        positions[name] = entries.count
        entries.append(NamedTensor(name, t))
      case (let i?, nil):
        entries.remove(at: i)
        positions = Dictionary(uniqueKeysWithValues: entries.enumerated().map { ($1.name, $0) })
      case (nil, nil): break
      }
    }
  }

  /// The f32 tensor called `name`; nil when absent or not f32.
  public func float(_ name: String) -> Tensor? {
    if case .f32(let t)? = self[name] { return t }
    return nil
  }

  /// Loads every tensor and the metadata of the safetensors file at `path`, in file order.
  /// A PyTorch state_dict saved with `safetensors.torch.save_file` loads as is.
  public static func load(from path: String) throws -> Weights {
    let contents = try SafeTensors.read(from: path)
    // SafeTensors.read has already rejected duplicate names.
    return try Weights(contents.tensors, metadata: contents.metadata)
  }

  /// Saves the tensors and metadata to `path` as safetensors, atomically.
  public func save(to path: String) throws {
    try SafeTensors.write(entries, metadata: metadata, to: path)
  }

  /// Every difference between these weights and the parameters `specs` describe: missing tensors,
  /// unexpected ones, wrong shapes and integer tensors where floats are needed, all at once.
  ///
  /// Missing, mis-shaped and non-float problems come in spec order, then unexpected tensors in weight order.
  /// PyTorch's BatchNorm counter `<layer>.num_batches_tracked` is accepted wherever `<layer>.running_mean` is expected.
  public func validate(against specs: [ParameterSpec]) -> [WeightError] {
    var problems: [WeightError] = []
    let expected = Set(specs.map(\.name))
    for spec in specs {
      guard let tensor = self[spec.name] else {
        problems.append(.missing(name: spec.name, expectedShape: spec.dims))
        continue
      }
      guard tensor.dtype == .f32 else {
        problems.append(.notFloat(name: spec.name, dtype: tensor.dtype))
        continue
      }
      if tensor.shape != spec.dims {
        problems.append(.shapeMismatch(name: spec.name, expected: spec.dims, found: tensor.shape))
      }
    }
    let counterSuffix = ".num_batches_tracked"
    for e in entries where !expected.contains(e.name) {
      if e.name.hasSuffix(counterSuffix), expected.contains(e.name.dropLast(counterSuffix.count) + ".running_mean") {
        continue
      }
      problems.append(.unexpected(name: e.name, shape: e.tensor.shape))
    }
    return problems
  }

  /// Throws every problem `validate(against:)` finds, naming `source` (e.g. the weights file), if there is any.
  public func check(against specs: [ParameterSpec], source: String) throws(WeightValidationError) {
    let problems = validate(against: specs)
    guard problems.isEmpty else { throw WeightValidationError(source: source, problems: problems) }
  }
}
