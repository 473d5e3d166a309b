// The parameters each node owns, with PyTorch's names and layouts.

/// One named parameter (or buffer) of a node.
public struct ParameterSpec: Hashable, Sendable {
  public enum Kind: String, Hashable, Sendable {
    /// conv [out, in/groups, kh, kw]; dense [out, in]; batch-norm γ [C].
    case weight
    case bias
    /// Batch-norm running statistics: buffers, not trained by gradient.
    case runningMean, runningVar
  }
  /// Full name, `<layer>.weight` etc.
  public var name: String
  public var kind: Kind
  public var dims: [Int]
  public var initializer: Initializer
  /// fan_in and fan_out as torch.nn.init computes them, for the scaled initializers.
  public var fanIn: Int
  public var fanOut: Int

  public var elementCount: Int { dims.reduce(1, *) }
  /// Trained by gradient descent (weights and biases; not running statistics).
  public var isTrainable: Bool { kind == .weight || kind == .bias }
}

extension Node {
  /// The parameters this node reads from a weights file, given the types of its inputs. Empty for ops without
  /// parameters. Suffixes follow PyTorch's state_dict: `.weight`, `.bias`, `.running_mean`, `.running_var`.
  ///
  /// A conv or dense layer with a folded batch norm lists the SOURCE tensors, as PyTorch saves them: its own
  /// weight (and bias, if it had one), then the batch norm's four tensors; `kernelParameters` lists what its
  /// kernel computes with.
  public func parameters(inputTypes: [TensorType]) -> [ParameterSpec] {
    switch op {
    case .dense(var d):
      guard let fold = d.foldedBatchNorm else { return kernelParameters(inputTypes: inputTypes) }
      d.bias = fold.sourceBias
      d.foldedBatchNorm = nil
      return Node(id: id, name: name, op: .dense(d), inputs: inputs).kernelParameters(inputTypes: inputTypes)
        + Self.batchNormParameters(fold.name, channels: d.units)
    case .conv2d(var c):
      guard let fold = c.foldedBatchNorm else { return kernelParameters(inputTypes: inputTypes) }
      c.bias = fold.sourceBias
      c.foldedBatchNorm = nil
      return Node(id: id, name: name, op: .conv2d(c), inputs: inputs).kernelParameters(inputTypes: inputTypes)
        + Self.batchNormParameters(fold.name, channels: c.filters)
    default:
      return kernelParameters(inputTypes: inputTypes)
    }
  }

  /// The parameters this node's kernel computes with, given the types of its inputs. The same as
  /// `parameters(inputTypes:)` except for a layer with a folded batch norm, whose kernel reads the folded
  /// `<name>.weight` (same shape) and `<name>.bias` ([out]) instead of its source tensors.
  public func kernelParameters(inputTypes: [TensorType]) -> [ParameterSpec] {
    func spec(_ suffix: String, _ kind: ParameterSpec.Kind, _ dims: [Int], _ i: Initializer, _ fi: Int, _ fo: Int)
      -> ParameterSpec
    {
      ParameterSpec(name: "\(name).\(suffix)", kind: kind, dims: dims, initializer: i, fanIn: fi, fanOut: fo)
    }
    switch op {
    case .dense(let d):
      let inFeatures = inputTypes.first?.elementCount ?? 0
      var ps = [spec("weight", .weight, [d.units, inFeatures], d.weightInit, inFeatures, d.units)]
      if d.bias { ps.append(spec("bias", .bias, [d.units], d.biasInit, inFeatures, d.units)) }
      return ps
    case .conv2d(let c):
      let inC = inputTypes.first?.dims.first ?? 0
      let perGroup = c.groups > 0 ? inC / c.groups : 0
      let receptive = c.kernel.h * c.kernel.w
      let fanIn = perGroup * receptive
      let fanOut = (c.groups > 0 ? c.filters / c.groups : 0) * receptive
      var ps = [spec("weight", .weight, [c.filters, perGroup, c.kernel.h, c.kernel.w], c.weightInit, fanIn, fanOut)]
      if c.bias { ps.append(spec("bias", .bias, [c.filters], c.biasInit, fanIn, fanOut)) }
      return ps
    case .batchNorm:
      return Self.batchNormParameters(name, channels: inputTypes.first?.dims.first ?? 0)
    case .input, .maxPool, .avgPool, .globalAvgPool, .flatten, .reshape, .concat, .add, .mul, .dropout, .lrn,
      .activation, .loss, .gradient, .optimizerStep:
      return []
    }
  }

  /// γ, β and the running statistics of the batch norm `layer` over `channels` channels.
  static func batchNormParameters(_ layer: String, channels ch: Int) -> [ParameterSpec] {
    func spec(_ suffix: String, _ kind: ParameterSpec.Kind, _ i: Initializer) -> ParameterSpec {
      ParameterSpec(name: "\(layer).\(suffix)", kind: kind, dims: [ch], initializer: i, fanIn: ch, fanOut: ch)
    }
    return [
      spec("weight", .weight, .ones), spec("bias", .bias, .zeros), spec("running_mean", .runningMean, .zeros),
      spec("running_var", .runningVar, .ones),
    ]
  }
}

extension Graph {
  /// Every parameter of the graph in node order. Requires inferred types.
  public func parameters() -> [ParameterSpec] {
    nodes.flatMap { n in n.parameters(inputTypes: n.inputs.compactMap { self[$0].type }) }
  }

  /// Every parameter the kernels compute with, in node order (folded weights where batch norms were folded).
  /// Requires inferred types.
  public func kernelParameters() -> [ParameterSpec] {
    nodes.flatMap { n in n.kernelParameters(inputTypes: n.inputs.compactMap { self[$0].type }) }
  }
}
