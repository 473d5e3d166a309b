// The ops autodiff appends: the backward of one forward op toward one of its inputs or parameters, and an
// optimizer update of one parameter tensor.

/// What a gradient node reads, in the order of its inputs.
public enum GradientOperand: Hashable, Sendable, CustomStringConvertible {
  /// ∂loss/∂y of the forward node's value.
  case outputGradient
  /// The forward node's k-th input value.
  case forwardInput(Int)
  /// The forward node's own value.
  case forwardOutput

  public var description: String {
    switch self {
    case .outputGradient: return "dy"
    case .forwardInput(let k): return "x\(k)"
    case .forwardOutput: return "y"
    }
  }
}

/// The backward of one forward op toward one thing it depends on: ∂loss/∂(input k) or ∂loss/∂(parameter).
///
/// A gradient node's inputs are exactly its `operands`, in that order: autodiff gives each rule the fewest
/// values it needs, so the memory plan keeps a forward activation alive only until its last gradient use.
/// Parameters (`<forwardName>.weight`, …) are read from params like the forward kernel reads them.
public struct Gradient: Hashable, Sendable {
  /// What the gradient is taken with respect to.
  public enum Target: Hashable, Sendable, CustomStringConvertible {
    /// The forward node's k-th input: a value of that input's type (batched).
    case input(Int)
    /// The forward node's parameter of this kind: an unbatched value of the parameter's shape.
    case parameter(ParameterSpec.Kind)

    public var description: String {
      switch self {
      case .input(let k): return "x\(k)"
      case .parameter(let kind): return kind.suffix
      }
    }
  }

  /// The forward op, with its attributes.
  public var forward: Op
  /// The forward node's name: it names the parameters read and a dropout's random stream.
  public var forwardName: String
  /// The types of the forward node's inputs (concat's channel offsets, a pool's input size, …).
  public var forwardInputTypes: [TensorType]
  public var target: Target
  /// The roles of the node's inputs, in order.
  public var operands: [GradientOperand]

  public init(
    forward: Op, forwardName: String, forwardInputTypes: [TensorType], target: Target, operands: [GradientOperand]
  ) {
    self.forward = forward
    self.forwardName = forwardName
    self.forwardInputTypes = forwardInputTypes
    self.target = target
    self.operands = operands
  }

  /// The index among the node's inputs of the operand with this role, if it has one.
  public func index(of operand: GradientOperand) -> Int? { operands.firstIndex(of: operand) }

  /// The parameter's full name, for a parameter gradient (`c1.weight`).
  public var parameterName: String? {
    guard case .parameter(let kind) = target else { return nil }
    return "\(forwardName).\(kind.suffix)"
  }
}

/// One optimizer update of a trainable parameter from its gradient (the node's one input). It writes the
/// parameter and its optimizer state in place and produces no value (an empty, unbatched type).
public struct OptimizerStep: Hashable, Sendable {
  /// The parameter's full name (`c1.weight`).
  public var parameter: String
  public var kind: ParameterSpec.Kind
  /// The parameter's shape.
  public var dims: [Int]
  public var optimizer: Optimizer
  public var regularization: Regularization

  public init(
    parameter: String, kind: ParameterSpec.Kind, dims: [Int], optimizer: Optimizer, regularization: Regularization
  ) {
    self.parameter = parameter
    self.kind = kind
    self.dims = dims
    self.optimizer = optimizer
    self.regularization = regularization
  }
}

extension ParameterSpec.Kind {
  /// The state_dict suffix: `weight`, `bias`, `running_mean`, `running_var`.
  public var suffix: String {
    switch self {
    case .weight: return "weight"
    case .bias: return "bias"
    case .runningMean: return "running_mean"
    case .runningVar: return "running_var"
    }
  }
}

extension TensorType {
  /// The type of a value that is nothing: what an optimizer step produces.
  public static let empty = TensorType(.f32, [0], batched: false)
}

extension Gradient {
  /// The type of the gradient value: the forward input's type for `.input(k)`, the parameter's shape
  /// (unbatched) for `.parameter`; nil when the target names nothing the forward op has.
  public var resultType: TensorType? {
    switch target {
    case .input(let k):
      return forwardInputTypes.indices.contains(k) ? forwardInputTypes[k] : nil
    case .parameter(let kind):
      let forwardNode = Node(id: NodeID(0), name: forwardName, op: forward, inputs: [])
      let spec = forwardNode.kernelParameters(inputTypes: forwardInputTypes).first { $0.kind == kind }
      return spec.map { TensorType(.f32, $0.dims, batched: false) }
    }
  }
}
