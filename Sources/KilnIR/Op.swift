// The one exhaustive list of operations. Adding a case fails to compile until shape inference,
// the interpreter and (later) autodiff and lowering all handle it.

/// An operation of the graph, with its attributes. Every node produces exactly one value.
/// Semantics match the PyTorch operator of the same name; layout is NCHW, float32.
public enum Op: Hashable, Sendable {
  /// A graph input (data or training target).
  case input(Input)
  /// y = x·Wᵀ + b, W: [units, in]  (nn.Linear), then the fused activation.
  case dense(Dense)
  /// 2-D cross-correlation (nn.Conv2d), then the fused activation.
  case conv2d(Conv2D)
  /// nn.MaxPool2d.
  case maxPool(Pool)
  /// nn.AvgPool2d.
  case avgPool(Pool)
  /// Mean over H and W: [C, H, W] → [C]  (nn.AdaptiveAvgPool2d(1) + flatten).
  case globalAvgPool
  /// [d1, d2, …] → [d1·d2·…]  (nn.Flatten).
  case flatten
  /// Per-sample reshape; at most one −1 dimension is inferred.
  case reshape(dims: [Int])
  /// Concatenation along dimension 1 (channels).
  case concat
  /// Elementwise sum of two values of one type.
  case add
  /// Elementwise product of two values of one type.
  case mul
  /// nn.BatchNorm1d/2d over dimension 1: running statistics at inference, batch statistics in training.
  case batchNorm(BatchNorm)
  /// nn.Dropout: identity at inference; in training zero with probability `rate`, scale the rest by 1/(1−rate).
  case dropout(rate: Double)
  /// nn.LocalResponseNorm across channels.
  case lrn(LRN)
  /// A standalone activation.
  case activation(Activation)
  /// A loss of (prediction, target), averaged over the batch: a scalar.
  case loss(LossKind)
  /// Appended by autodiff: the backward of one forward op toward one of its inputs or parameters.
  indirect case gradient(Gradient)
  /// Appended by autodiff: one optimizer update of a parameter from its gradient (in place; no value).
  case optimizerStep(OptimizerStep)

  /// The spec keyword of the op, as `kiln check` prints it.
  public var name: String {
    switch self {
    case .input: return "input"
    case .dense: return "dense"
    case .conv2d: return "conv"
    case .maxPool: return "maxpool"
    case .avgPool: return "avgpool"
    case .globalAvgPool: return "global_avgpool"
    case .flatten: return "flatten"
    case .reshape: return "reshape"
    case .concat: return "concat"
    case .add: return "add"
    case .mul: return "mul"
    case .batchNorm: return "batchnorm"
    case .dropout: return "dropout"
    case .lrn: return "lrn"
    case .activation(let a):
      switch a {
      case .leakyRelu: return "leaky_relu"
      case .elu: return "elu"
      default: return a.description
      }
    case .loss(let l): return l.rawValue
    case .gradient: return "grad"
    case .optimizerStep: return "optimizer_step"
    }
  }

  /// How many inputs the op takes; nil means two or more (concat).
  public var arity: Int? {
    switch self {
    case .input: return 0
    case .concat: return nil
    case .add, .mul, .loss: return 2
    case .gradient(let g): return g.operands.count
    case .optimizerStep: return 1
    case .dense(let d): return 1 + d.epilogue.operandCount
    case .conv2d(let c): return 1 + c.epilogue.operandCount
    default: return 1
    }
  }
}

/// A graph input.
public struct Input: Hashable, Sendable {
  public enum Role: String, Hashable, Sendable { case data, target }
  public var type: TensorType
  public var role: Role
  public init(type: TensorType, role: Role = .data) {
    self.type = type
    self.role = role
  }
}

/// A fully connected layer.
public struct Dense: Hashable, Sendable {
  public var units: Int
  public var bias: Bool
  public var activation: Activation
  public var weightInit: Initializer
  public var biasInit: Initializer
  /// Set by fold-batchnorm: the batch norm this layer's weight and bias absorb (then `bias` is true).
  public var foldedBatchNorm: FoldedBatchNorm?
  /// Set by fuse-epilogues: elementwise operations applied after the bias and `activation`, in order.
  public var epilogue: [EpilogueOp] = []
  public init(
    units: Int, bias: Bool = true, activation: Activation = .identity,
    weightInit: Initializer = .glorotUniform, biasInit: Initializer = .zeros, foldedBatchNorm: FoldedBatchNorm? = nil
  ) {
    self.units = units
    self.bias = bias
    self.activation = activation
    self.weightInit = weightInit
    self.biasInit = biasInit
    self.foldedBatchNorm = foldedBatchNorm
  }
}

/// A 2-D convolution (cross-correlation, no kernel flip), grouped and dilated.
public struct Conv2D: Hashable, Sendable {
  public var filters: Int
  public var kernel: Pair
  public var stride: Pair
  public var padding: Padding
  public var dilation: Pair
  /// 1 is an ordinary conv; in_channels is depthwise.
  public var groups: Int
  public var bias: Bool
  public var activation: Activation
  /// How an output size that is not a whole number is handled (conv supports exact and floor).
  public var rounding: Rounding
  public var weightInit: Initializer
  public var biasInit: Initializer
  /// Set by fold-batchnorm: the batch norm this layer's weight and bias absorb (then `bias` is true).
  public var foldedBatchNorm: FoldedBatchNorm?
  /// Set by fuse-epilogues: elementwise operations applied after the bias and `activation`, in order.
  public var epilogue: [EpilogueOp] = []

  public init(
    filters: Int, kernel: Pair, stride: Pair = Pair(1), padding: Padding = .explicit(Pads(0)),
    dilation: Pair = Pair(1), groups: Int = 1, bias: Bool = true, activation: Activation = .identity,
    rounding: Rounding = .exact, weightInit: Initializer = .glorotUniform, biasInit: Initializer = .zeros,
    foldedBatchNorm: FoldedBatchNorm? = nil
  ) {
    self.foldedBatchNorm = foldedBatchNorm
    self.filters = filters
    self.kernel = kernel
    self.stride = stride
    self.padding = padding
    self.dilation = dilation
    self.groups = groups
    self.bias = bias
    self.activation = activation
    self.rounding = rounding
    self.weightInit = weightInit
    self.biasInit = biasInit
  }

  /// The window along both axes, for output-size arithmetic.
  public var window: Window2D {
    Window2D(kernel: kernel, stride: stride, dilation: dilation, padding: padding, rounding: rounding)
  }
}

/// Max or average pooling.
public struct Pool: Hashable, Sendable {
  public var kernel: Pair
  /// Defaults to the kernel, as in PyTorch.
  public var stride: Pair
  public var padding: Padding
  public var rounding: Rounding
  /// Average pooling only: whether padded zeros count in the divisor (PyTorch's count_include_pad, default true).
  public var countIncludePad: Bool

  public init(
    kernel: Pair, stride: Pair? = nil, padding: Padding = .explicit(Pads(0)), rounding: Rounding = .exact,
    countIncludePad: Bool = true
  ) {
    self.kernel = kernel
    self.stride = stride ?? kernel
    self.padding = padding
    self.rounding = rounding
    self.countIncludePad = countIncludePad
  }

  public var window: Window2D {
    Window2D(kernel: kernel, stride: stride, dilation: Pair(1), padding: padding, rounding: rounding)
  }
}

/// Batch normalization over dimension 1.
public struct BatchNorm: Hashable, Sendable {
  public var epsilon: Double
  /// Running-statistics update factor in training (PyTorch's momentum, default 0.1).
  public var momentum: Double
  public init(epsilon: Double = 1e-5, momentum: Double = 0.1) {
    self.epsilon = epsilon
    self.momentum = momentum
  }

  /// Whether training over a per-sample `input` ([C] or [C, H, W]) needs a batch of at least 2: with one value
  /// per channel (e.g. after a dense layer) a single sample has no batch variance, and the running variance's
  /// unbiased estimate divides by m − 1 = 0 (PyTorch refuses it too).
  public static func needsTwoSamples(input: TensorType) -> Bool {
    input.dims.first.map { input.elementCount == $0 } ?? false
  }
}

/// A batch norm folded into the conv or dense layer before it: where the layer's parameters come from.
///
/// The layer's weight files still hold the unfolded tensors (`<layer>.weight`, `<layer>.bias` when
/// `sourceBias`, and `<name>.weight/.bias/.running_mean/.running_var`); the kernel computes with the folded
/// `<layer>.weight` and `<layer>.bias`, prepared from those when weights are loaded.
public struct FoldedBatchNorm: Hashable, Sendable {
  /// The removed batch-norm node's name, which names its γ, β and running statistics.
  public var name: String
  /// The batch norm's ε.
  public var epsilon: Double
  /// Whether the layer had a bias of its own before folding (else b = 0 in the fold).
  public var sourceBias: Bool
  public init(name: String, epsilon: Double, sourceBias: Bool) {
    self.name = name
    self.epsilon = epsilon
    self.sourceBias = sourceBias
  }
}

/// Local response normalization across channels (nn.LocalResponseNorm):
/// b_c = a_c / (k + α/size · Σ_{c'} a_{c'}²)^β over the window c − ⌊size/2⌋ … c + ⌊(size−1)/2⌋.
public struct LRN: Hashable, Sendable {
  public var size: Int
  public var alpha: Double
  public var beta: Double
  public var k: Double
  public init(size: Int, alpha: Double = 1e-4, beta: Double = 0.75, k: Double = 1) {
    self.size = size
    self.alpha = alpha
    self.beta = beta
    self.k = k
  }
}

/// The losses; each is averaged over the batch (PyTorch's reduction='mean').
public enum LossKind: String, Hashable, Sendable, CaseIterable {
  /// nn.CrossEntropyLoss on logits with integer class labels.
  case softmaxCrossEntropy = "softmax_cross_entropy"
  /// nn.BCEWithLogitsLoss, mean over every element.
  case binaryCrossEntropyWithLogits = "bce_with_logits"
  /// nn.MSELoss, mean over every element.
  case meanSquaredError = "mse"
  /// nn.L1Loss, mean over every element.
  case meanAbsoluteError = "mae"

  /// Whether the target holds class indices (i64, one per sample) rather than floats shaped like the prediction.
  public var takesClassIndices: Bool { self == .softmaxCrossEntropy }
}

/// One elementwise operation of a conv or dense kernel's epilogue, applied to the layer's value after its bias
/// and its own `activation`, while the value is still in registers:
///
///     y = eₖ(…e₂(e₁(act(W∗x + b))))
///
/// `add` and `mul` read the node's next extra input: input 0 is the layer's own input, and the operand of the
/// i-th `add`/`mul` of the epilogue is input i + 1 (same type as the layer's value). So ResNet's
/// `relu(bn(conv(x)) + shortcut)` becomes `conv(x, shortcut) {epilogue: [add, relu]}` once the batch norm is folded.
public enum EpilogueOp: Hashable, Sendable, CustomStringConvertible {
  /// An elementwise activation (never softmax or log_softmax, which normalize across units).
  case activation(Activation)
  /// Adds the next extra input (a residual).
  case add
  /// Multiplies by the next extra input.
  case mul

  /// Whether the operation reads an extra input.
  public var hasOperand: Bool {
    switch self {
    case .activation: return false
    case .add, .mul: return true
    }
  }

  public var description: String {
    switch self {
    case .activation(let a): return a.description
    case .add: return "add"
    case .mul: return "mul"
    }
  }
}

extension Array where Element == EpilogueOp {
  /// How many extra inputs the epilogue reads.
  public var operandCount: Int { filter(\.hasOperand).count }
}
