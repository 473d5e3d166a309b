// Reading activation and initializer values, written as a bare name or a call such as leaky_relu(0.1).

import KilnIR

extension Arguments {
  /// Activation spellings that take no argument.
  static let plainActivations: [String: Activation] = [
    "identity": .identity, "relu": .relu, "relu6": .relu6, "sigmoid": .sigmoid, "tanh": .tanh,
    "softmax": .softmax, "log_softmax": .logSoftmax,
  ]

  /// Default alpha of the activations that have one (PyTorch's).
  static let activationAlphas: [String: Double] = ["leaky_relu": 0.01, "elu": 1.0]

  /// Initializer spellings that take no argument, aliases included.
  static let plainInitializers: [String: Initializer] = [
    "glorot_uniform": .glorotUniform, "xavier_uniform": .glorotUniform,
    "glorot_normal": .glorotNormal, "xavier_normal": .glorotNormal,
    "he_uniform": .heUniform, "kaiming_uniform": .heUniform,
    "he_normal": .heNormal, "kaiming_normal": .heNormal,
    "zeros": .zeros, "ones": .ones, "torch_default": .torchDefault,
  ]

  /// Every initializer spelling, for diagnostics.
  static let initializerNames = [
    "glorot_uniform", "xavier_uniform", "glorot_normal", "xavier_normal", "he_uniform", "kaiming_uniform",
    "he_normal", "kaiming_normal", "zeros", "ones", "constant(v)", "normal(std)", "uniform(a, b)", "torch_default",
  ]

  /// Reports a word that is not one of `choices`, suggesting the closest, and returns nil.
  mutating func unknown<T>(_ v: Value, _ word: String, for name: String, choices: [String]) -> T? {
    let plain = choices.map { $0.split(separator: "(").first.map(String.init) ?? $0 }
    let hint = closestWord(to: word, in: plain).map { "; did you mean '\($0)'?" } ?? ""
    fail(v.location, "unknown \(name) '\(word)' for \(owner)\(hint)", expected: "one of: \(choices.joined(separator: ", "))")
    return nil
  }

  /// The activation given for `name`, or `fallback` when there is none.
  mutating func activation(_ name: String, default fallback: Activation) -> Activation? {
    guard let v = value(name) else { return fallback }
    let expected = "an activation: \(Activation.specNames.joined(separator: ", "))"
    guard let written = call(v, for: name, expected: expected) else { return nil }
    let (callee, arguments) = (written.callee, written.arguments)
    if let plain = Self.plainActivations[callee] {
      let before = diagnostics.count
      nested(arguments, of: callee, parameters: [], at: v.location) { _ in }
      return diagnostics.count == before ? plain : nil
    }
    guard let alphaDefault = Self.activationAlphas[callee] else {
      return unknown(v, callee, for: "activation", choices: Activation.specNames)
    }
    var alpha: Double?
    nested(arguments, of: callee, parameters: ["alpha"], at: v.location) {
      alpha = $0.double("alpha", default: alphaDefault, .nonNegative)
    }
    guard let alpha else { return nil }
    return callee == "elu" ? .elu(alpha: alpha) : .leakyRelu(alpha: alpha)
  }

  /// The initializer given for `name`, or `fallback` when there is none.
  mutating func initializer(_ name: String, default fallback: Initializer) -> Initializer? {
    guard let v = value(name) else { return fallback }
    let expected = "an initializer: \(Self.initializerNames.joined(separator: ", "))"
    guard let written = call(v, for: name, expected: expected) else { return nil }
    let (callee, arguments) = (written.callee, written.arguments)
    if let plain = Self.plainInitializers[callee] {
      let before = diagnostics.count
      nested(arguments, of: callee, parameters: [], at: v.location) { _ in }
      return diagnostics.count == before ? plain : nil
    }
    var result: Initializer?
    switch callee {
    case "constant":
      nested(arguments, of: callee, parameters: ["value"], at: v.location) {
        result = $0.double("value", default: nil).map { .constant($0) }
      }
    case "normal":
      nested(arguments, of: callee, parameters: ["std", "mean"], at: v.location) {
        let std = $0.double("std", default: nil, .positive)
        let mean = $0.double("mean", default: 0)
        if let std, let mean { result = .normal(mean: mean, std: std) }
      }
    case "uniform":
      let owner = self.owner
      nested(arguments, of: callee, parameters: ["a", "b"], at: v.location) {
        let low = $0.double("a", default: nil)
        let high = $0.double("b", default: nil)
        guard let low, let high else { return }
        if low < high {
          result = .uniform(low: low, high: high)
        } else {
          $0.fail(v.location, "uniform(\(formatNumber(low)), \(formatNumber(high))) of \(owner) is an empty range",
            expected: "a < b")
        }
      }
    default:
      return unknown(v, callee, for: "initializer", choices: Self.initializerNames)
    }
    return result
  }
}
