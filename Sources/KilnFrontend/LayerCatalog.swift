// The layer keywords of the spec language: their attributes, how many inputs they read, and the Op each builds.

import KilnIR

/// How many values a layer reads.
enum LayerArity: Equatable {
  /// The previous value, or one name after `<-`.
  case one
  /// Exactly two names after `<-`.
  case two
  /// Two or more names after `<-`.
  case atLeastTwo
}

/// One layer keyword.
struct LayerEntry: Sendable {
  /// The canonical keyword (`conv` for the alias `conv2d`); automatic names are `<keyword>_<k>`.
  let keyword: String
  /// Accepted attribute names, in documentation order.
  let attributes: [String]
  let arity: LayerArity
}

/// The table of layer keywords and the builder of each op from its attributes.
enum LayerCatalog {
  private static let window = ["kernel", "stride", "padding", "rounding"]
  private static let entries: [LayerEntry] = [
    LayerEntry(keyword: "dense", attributes: ["units", "bias", "activation", "init", "bias_init"], arity: .one),
    LayerEntry(
      keyword: "conv",
      attributes: [
        "filters", "kernel", "stride", "padding", "dilation", "groups", "bias", "activation", "rounding", "init",
        "bias_init",
      ], arity: .one),
    LayerEntry(keyword: "maxpool", attributes: window, arity: .one),
    LayerEntry(keyword: "avgpool", attributes: window + ["count_include_pad"], arity: .one),
    LayerEntry(keyword: "global_avgpool", attributes: [], arity: .one),
    LayerEntry(keyword: "flatten", attributes: [], arity: .one),
    LayerEntry(keyword: "reshape", attributes: ["shape"], arity: .one),
    LayerEntry(keyword: "concat", attributes: [], arity: .atLeastTwo),
    LayerEntry(keyword: "add", attributes: [], arity: .two),
    LayerEntry(keyword: "mul", attributes: [], arity: .two),
    LayerEntry(keyword: "batchnorm", attributes: ["epsilon", "momentum"], arity: .one),
    LayerEntry(keyword: "dropout", attributes: ["rate"], arity: .one),
    LayerEntry(keyword: "lrn", attributes: ["size", "alpha", "beta", "k"], arity: .one),
    LayerEntry(keyword: "identity", attributes: [], arity: .one),
    LayerEntry(keyword: "relu", attributes: [], arity: .one),
    LayerEntry(keyword: "relu6", attributes: [], arity: .one),
    LayerEntry(keyword: "leaky_relu", attributes: ["alpha"], arity: .one),
    LayerEntry(keyword: "elu", attributes: ["alpha"], arity: .one),
    LayerEntry(keyword: "sigmoid", attributes: [], arity: .one),
    LayerEntry(keyword: "tanh", attributes: [], arity: .one),
    LayerEntry(keyword: "softmax", attributes: [], arity: .one),
    LayerEntry(keyword: "log_softmax", attributes: [], arity: .one),
  ]

  /// Other spellings of a keyword.
  private static let aliases = ["conv2d": "conv"]

  /// Every layer keyword and alias, in documentation order.
  static let keywords: [String] = entries.flatMap { e in [e.keyword] + aliases.filter { $0.value == e.keyword }.map(\.key) }

  /// The entry of a keyword or alias.
  static func entry(for word: String) -> LayerEntry? {
    let canonical = aliases[word] ?? word
    return entries.first { $0.keyword == canonical }
  }

  /// Builds the op of a layer from its attributes; nil when `r` has reported a problem.
  static func build(_ entry: LayerEntry, _ r: inout Arguments) -> Op? {
    switch entry.keyword {
    case "dense":
      let units = r.int("units", default: nil, .positive)
      let bias = r.bool("bias", default: true)
      let activation = r.activation("activation", default: .identity)
      let weightInit = r.initializer("init", default: .glorotUniform)
      let biasInit = r.initializer("bias_init", default: .zeros)
      guard let units, let bias, let activation, let weightInit, let biasInit else { return nil }
      return .dense(Dense(units: units, bias: bias, activation: activation, weightInit: weightInit, biasInit: biasInit))
    case "conv":
      return conv(&r)
    case "maxpool", "avgpool":
      let kernel = r.pair("kernel", default: nil, .positive)
      let stride = r.pair("stride", default: kernel ?? Pair(1), .positive)
      let padding = r.padding("padding")
      let rounding = r.rounding("rounding", allowCeil: true)
      let countIncludePad = r.bool("count_include_pad", default: true)
      guard let kernel, let stride, let padding, let rounding, let countIncludePad else { return nil }
      let pool = Pool(kernel: kernel, stride: stride, padding: padding, rounding: rounding, countIncludePad: countIncludePad)
      return entry.keyword == "maxpool" ? .maxPool(pool) : .avgPool(pool)
    case "global_avgpool": return .globalAvgPool
    case "flatten": return .flatten
    case "concat": return .concat
    case "add": return .add
    case "mul": return .mul
    case "reshape":
      return reshape(&r)
    case "batchnorm":
      let epsilon = r.double("epsilon", default: 1e-5, .positive)
      let momentum = r.double("momentum", default: 0.1, .closedUnit)
      guard let epsilon, let momentum else { return nil }
      return .batchNorm(BatchNorm(epsilon: epsilon, momentum: momentum))
    case "dropout":
      return r.double("rate", default: 0.5, .rate).map { .dropout(rate: $0) }
    case "lrn":
      let size = r.int("size", default: nil, .positive)
      let alpha = r.double("alpha", default: 1e-4, .nonNegative)
      let beta = r.double("beta", default: 0.75, .nonNegative)
      let k = r.double("k", default: 1, .positive)
      guard let size, let alpha, let beta, let k else { return nil }
      return .lrn(LRN(size: size, alpha: alpha, beta: beta, k: k))
    case "leaky_relu", "elu":
      let alpha = r.double("alpha", default: Arguments.activationAlphas[entry.keyword] ?? 0, .nonNegative)
      return alpha.map { .activation(entry.keyword == "elu" ? .elu(alpha: $0) : .leakyRelu(alpha: $0)) }
    default:
      // The remaining keywords are the activations without attributes.
      return Arguments.plainActivations[entry.keyword].map { .activation($0) }
    }
  }

  private static func conv(_ r: inout Arguments) -> Op? {
    let filters = r.int("filters", default: nil, .positive)
    let kernel = r.pair("kernel", default: nil, .positive)
    let stride = r.pair("stride", default: Pair(1), .positive)
    let padding = r.padding("padding")
    let dilation = r.pair("dilation", default: Pair(1), .positive)
    let groups = r.int("groups", default: 1, .positive)
    let bias = r.bool("bias", default: true)
    let activation = r.activation("activation", default: .identity)
    let rounding = r.rounding("rounding", allowCeil: false)
    let weightInit = r.initializer("init", default: .glorotUniform)
    let biasInit = r.initializer("bias_init", default: .zeros)
    guard let filters, let kernel, let stride, let padding, let dilation, let groups, let bias, let activation,
      let rounding, let weightInit, let biasInit
    else { return nil }
    guard filters % groups == 0 else {
      r.fail(
        r.value("groups")?.location ?? r.location,
        "\(r.owner) has \(filters) filters, which is not divisible by groups: \(groups)",
        expected: "a number of filters divisible by groups")
      return nil
    }
    return .conv2d(
      Conv2D(
        filters: filters, kernel: kernel, stride: stride, padding: padding, dilation: dilation, groups: groups,
        bias: bias, activation: activation, rounding: rounding, weightInit: weightInit, biasInit: biasInit))
  }

  private static func reshape(_ r: inout Arguments) -> Op? {
    guard let dims = r.ints("shape") else { return nil }
    let at = r.value("shape")?.location ?? r.location
    if let bad = dims.first(where: { $0 == 0 || $0 < -1 }) {
      r.fail(at, "reshape dimension \(bad) of \(r.owner) is out of range", expected: "positive dimensions, or -1 for one inferred dimension")
      return nil
    }
    if dims.filter({ $0 == -1 }).count > 1 {
      r.fail(at, "\(r.owner) has more than one -1 dimension", expected: "at most one dimension to infer")
      return nil
    }
    return .reshape(dims: dims)
  }
}
