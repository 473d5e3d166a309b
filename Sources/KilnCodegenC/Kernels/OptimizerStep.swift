// The optimizer-step kernel: one update of one parameter and its state, with weight decay, L1 and max-norm.
import KilnIR

/// Context of `optimizer_step.c.mustache`: one section per optimizer family, chosen here, never in the template.
///
/// Hyper-parameters are C double literals that parse to exactly the `Double` the reference optimizer uses
/// (`cDecimalDouble`), so the kernel's arithmetic repeats the reference's operation for operation.
public struct OptimizerStepContext: KernelContext {
  public static let template = "optimizer_step"

  /// One optimizer-state slot: a `float *` parameter named by PyTorch's slot name.
  public struct Slot: Sendable {
    public var slot: String
  }

  /// The C function name and the text of its leading comment.
  public var name, comment: String
  /// Rows of the update loop (dim 0, one thread's each: max-norm sums a row's norm) and values per row.
  public var rows, width: Int
  /// 0 under max-norm (a first pass over each row sums its squared norm), else 1.
  public var firstPass: Int
  /// Whether the parameter is large enough for an OpenMP region (`elementwiseParallelThreshold`).
  public var parallel: Bool
  /// The state slots in signature order (`Optimizer.stateSlotNames`).
  public var slots: [Slot]

  /// Coupled L2 decay (`g ← g + λ·p`) or AdamW's decoupled decay (`p ← p·(1 − γ·λ)`), with λ = `weightDecay`.
  public var coupledDecay, decoupledDecay: Bool
  public var weightDecay: String
  /// L1 (`g ← g + λ₁·sign(p)`), λ₁ = `l1Coefficient`.
  public var l1: Bool
  public var l1Coefficient: String
  /// Max-norm of each row after the update, limit `maxNormLimit`.
  public var maxNorm: Bool
  public var maxNormLimit: String

  /// Exactly one family section is on. `sgd` is plain SGD, `momentumSGD` SGD with a momentum buffer.
  public var sgd, momentumSGD, nesterov: Bool
  public var adagrad: Bool
  public var rmsprop, rmspropMomentum: Bool
  public var adadelta: Bool
  /// Adam and AdamW (their decay differs, see `decoupledDecay`), with AMSGrad's running maximum.
  public var adam, adamW, amsgrad: Bool
  public var adamax: Bool
  public var nadam: Bool

  /// Hyper-parameters as C double literals ("0.0" where the optimizer has none).
  public var momentum, dampening, alpha, rho, beta1, beta2, epsilon, momentumDecay: String

  public static let sample = OptimizerStepContext(
    name: "k9_optimizer_step_fc_weight", comment: "adam step of fc.weight [4, 3]", rows: 4, width: 3,
    firstPass: 0, parallel: false, slots: [Slot(slot: "exp_avg"), Slot(slot: "exp_avg_sq")], coupledDecay: true,
    decoupledDecay: false, weightDecay: "0.0001", l1: false, l1Coefficient: "0.0", maxNorm: true,
    maxNormLimit: "3.0", sgd: false, momentumSGD: false, nesterov: false, adagrad: false, rmsprop: false,
    rmspropMomentum: false, adadelta: false, adam: true, adamW: false, amsgrad: false, adamax: false, nadam: false,
    momentum: "0.0", dampening: "0.0", alpha: "0.0", rho: "0.0", beta1: "0.9", beta2: "0.999", epsilon: "1e-08",
    momentumDecay: "0.0")
}

/// The kernel of `Op.optimizerStep`: the C twin of `ReferenceOptimizer`'s update of one parameter.
public enum OptimizerStepKernel {
  /// One update of parameter `step.parameter` from its gradient (the kernel's one input `grad`, unbatched,
  /// `floats` = element count): parameters `param` (.updatedParameter, tensor = step.parameter), one
  /// .optimizerState per slot (tensor `<param>.<slot>`, slot names = `Optimizer.stateSlotNames`, PyTorch's),
  /// and `info` (.stepInfo: lr and t at run time). Hyper-parameters other than lr are literal constants.
  ///
  /// Every element is updated in double from the float parameter, gradient and state and stored as float, in the
  /// reference's order of operations; the regularization order is the reference's too (decoupled decay, coupled
  /// decay, L1, the update, max-norm), with decay and L1 only where `Regularization.decays(kind:dims:)` says and
  /// max-norm only on `.weight` tensors of rank ≥ 2. Max-norm scales the double values as the reference does: a
  /// first pass over each row computes the updated values only to sum their squares, and a second computes them
  /// again and stores them scaled. Each state slot must start as `initialValue(ofSlot:)`. `options` changes
  /// nothing: the update is elementwise, with no BLAS call.
  /// - Throws: `KernelShapeError` when the parameter is not trainable (a running statistic) or its shape has an
  ///   empty dimension or too many values.
  public static func make(name: String, step: OptimizerStep, options: KernelOptions) throws -> KernelFunction {
    guard step.kind == .weight || step.kind == .bias else {
      throw KernelShapeError(
        kernel: name, "parameter '\(step.parameter)' is a \(step.kind.suffix), not trained; expected a weight or bias")
    }
    let count = try KernelChecks.require(
      TensorType(.f32, step.dims, batched: false), "parameter '\(step.parameter)'", ranks: 1...Int.max,
      layout: "of rank ≥ 1", kernel: name)
    let reg = step.regularization
    let decayed = reg.decays(kind: step.kind, dims: step.dims)
    var decoupled = false
    if case .adamw = step.optimizer { decoupled = true }
    let maxNormLimit = step.kind == .weight && step.dims.count >= 2 ? reg.maxNorm : nil
    let rows = step.dims[0]
    let slots = stateSlots(of: step)
    var context = OptimizerStepContext(
      name: name, comment: "\(step.optimizer.name) step of \(step.parameter) \(step.dims)", rows: rows,
      width: count / rows, firstPass: maxNormLimit == nil ? 1 : 0, parallel: count >= elementwiseParallelThreshold,
      slots: slots.map { OptimizerStepContext.Slot(slot: $0.slot) },
      coupledDecay: decayed && !decoupled && reg.weightDecay != 0,
      decoupledDecay: decayed && decoupled && reg.weightDecay != 0, weightDecay: cDecimalDouble(reg.weightDecay),
      l1: decayed && reg.l1 != 0, l1Coefficient: cDecimalDouble(reg.l1), maxNorm: maxNormLimit != nil,
      maxNormLimit: cDecimalDouble(maxNormLimit ?? 0), sgd: false, momentumSGD: false, nesterov: false, adagrad: false,
      rmsprop: false, rmspropMomentum: false, adadelta: false, adam: false, adamW: false, amsgrad: false, adamax: false,
      nadam: false, momentum: "0.0", dampening: "0.0", alpha: "0.0", rho: "0.0", beta1: "0.0", beta2: "0.0",
      epsilon: "0.0", momentumDecay: "0.0")
    context.select(step.optimizer)
    var parameters = [
      KernelParameter("grad", .input, floats: count, batched: false),
      KernelParameter("param", .updatedParameter, tensor: step.parameter, floats: count),
    ]
    for (slot, floats) in slots {
      parameters.append(KernelParameter(slot, .optimizerState, tensor: "\(step.parameter).\(slot)", floats: floats))
    }
    parameters.append(KernelParameter("info", .stepInfo, floats: 0))
    return KernelFunction(name: name, definition: TemplateRenderer.shared.render(context), parameters: parameters)
  }

  /// The state slots (name, element count) the kernel keeps for this parameter, for the opt_state layout.
  /// Every slot is shaped like the parameter except NAdam's `mu_product`, a scalar (one float).
  public static func stateSlots(of step: OptimizerStep) -> [(slot: String, floats: Int)] {
    let count = step.dims.reduce(1, *)
    return step.optimizer.stateSlotNames.map { ($0, $0 == "mu_product" ? 1 : count) }
  }

  /// The value every element of a fresh slot holds before the first step, as PyTorch initializes it: one for
  /// `mu_product`, zero for the others.
  public static func initialValue(ofSlot slot: String) -> Float { slot == "mu_product" ? 1 : 0 }
}

extension OptimizerStepContext {
  /// Turns on the section of `optimizer` and sets its hyper-parameters.
  fileprivate mutating func select(_ optimizer: Optimizer) {
    switch optimizer {
    case .sgd(_, let momentum, let dampening, let nesterov):
      // As Optimizer.stateSlotNames: a buffer exactly when μ ≠ 0.
      sgd = momentum == 0
      momentumSGD = momentum != 0
      self.nesterov = nesterov
      self.momentum = cDecimalDouble(momentum)
      self.dampening = cDecimalDouble(dampening)
    case .adagrad(_, let eps):
      adagrad = true
      epsilon = cDecimalDouble(eps)
    case .rmsprop(_, let alpha, let eps, let momentum):
      rmsprop = true
      rmspropMomentum = momentum > 0
      self.alpha = cDecimalDouble(alpha)
      epsilon = cDecimalDouble(eps)
      self.momentum = cDecimalDouble(momentum)
    case .adadelta(_, let rho, let eps):
      adadelta = true
      self.rho = cDecimalDouble(rho)
      epsilon = cDecimalDouble(eps)
    case .adam(_, let b1, let b2, let eps, let ams), .adamw(_, let b1, let b2, let eps, let ams):
      adam = true
      if case .adamw = optimizer { adamW = true }
      amsgrad = ams
      (beta1, beta2, epsilon) = (cDecimalDouble(b1), cDecimalDouble(b2), cDecimalDouble(eps))
    case .adamax(_, let b1, let b2, let eps):
      adamax = true
      (beta1, beta2, epsilon) = (cDecimalDouble(b1), cDecimalDouble(b2), cDecimalDouble(eps))
    case .nadam(_, let b1, let b2, let eps):
      nadam = true
      (beta1, beta2, epsilon) = (cDecimalDouble(b1), cDecimalDouble(b2), cDecimalDouble(eps))
      momentumDecay = cDecimalDouble(Optimizer.nadamMomentumDecay)
    }
  }
}

/// A C double literal that parses to exactly `x`: Swift's shortest round-trip decimal (`0.9`, `1e-08`), which
/// C compilers read correctly rounded; `NAN` and `(±INFINITY)` from math.h for the others.
func cDecimalDouble(_ x: Double) -> String {
  if x.isNaN { return "NAN" }
  if x.isInfinite { return x < 0 ? "(-INFINITY)" : "INFINITY" }
  return x < 0 || (x == 0 && x.sign == .minus) ? "(\(x))" : "\(x)"
}
