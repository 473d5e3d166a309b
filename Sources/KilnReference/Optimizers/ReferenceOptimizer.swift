// The reference optimizer: per-parameter state, regularization, and one update step of every trainable parameter.
import KilnIR

/// The state one optimizer keeps for one parameter, under PyTorch's names so a checkpoint can save it as
/// `<parameter>.<slot>` and PyTorch's `optimizer.state_dict()` can be compared slot by slot.
public struct OptimizerState: Hashable, Sendable {
  /// How many updates this parameter has had (PyTorch's `step`).
  public var step: Int
  /// Named buffers: `momentum_buffer`, `exp_avg`, `exp_avg_sq`, `max_exp_avg_sq`, `square_avg`, `acc_delta`,
  /// `sum`, `exp_inf` (each shaped like the parameter) and `mu_product` (a scalar, shape `[]`).
  public var slots: [String: Tensor]

  /// A state after `step` updates holding `slots`.
  public init(step: Int = 0, slots: [String: Tensor] = [:]) {
    self.step = step
    self.slots = slots
  }
}

/// One optimizer with its regularization, applied to named parameters: the oracle the generated C
/// optimizer-step kernels are checked against.
///
/// Every update is computed in `Double` from the stored `Float` values and stored back as `Float`, parameters and
/// state alike, as a C kernel that keeps `float` buffers does. The formulas and defaults are PyTorch's
/// (`torch.optim`, non-`maximize`, non-`foreach`); each is derived in `UpdateRules.swift`.
///
/// Regularization, in this order within one step:
/// 1. decoupled weight decay (AdamW only): `p ← p·(1 − lr·wd)`;
/// 2. coupled weight decay (every other optimizer): `g ← g + wd·p`;
/// 3. L1: `g ← g + l1·sign(p)` (sign 0 at 0);
/// 4. the optimizer's update with `g`;
/// 5. max-norm: each output unit's incoming weights (a row along dim 0) whose L2 norm exceeds the limit are
///    rescaled to that norm (Keras `MaxNorm(axis=0)` on Keras's `[in, out]` layout is this on PyTorch's `[out, in]`;
///    Keras also scales rows under the limit by `n/(n + 1e-7)`, which this omits).
///
/// Decay and L1 apply to weights only, unless `decayBiases`: a `.weight` of rank ≥ 2 (dense, conv) is a weight;
/// a bias and a batch-norm γ (a rank-1 `.weight`) or β are not. Max-norm applies to rank ≥ 2 weights only.
public struct ReferenceOptimizer: Hashable, Sendable {
  /// The optimizer and its hyper-parameters; its `lr` is only the initial `learningRate`.
  public var optimizer: Optimizer
  /// Weight decay, L1 and max-norm.
  public var regularization: Regularization
  /// The rate the next `step` uses; a schedule sets it between epochs.
  public var learningRate: Double
  /// The state of each parameter updated so far, by parameter name.
  public var states: [String: OptimizerState]

  /// An optimizer with fresh state, starting at the optimizer's own learning rate.
  public init(_ optimizer: Optimizer, regularization: Regularization = Regularization()) {
    self.optimizer = optimizer
    self.regularization = regularization
    self.learningRate = optimizer.learningRate
    self.states = [:]
  }

  /// One update of every trainable parameter in `params` (kind `.weight` or `.bias` in `kinds`) from its gradient.
  ///
  /// Parameters are visited in name order. Parameters of other kinds (running statistics) are left untouched and
  /// need no gradient. Throws, changing nothing, when a trainable parameter has no kind, no gradient, a gradient of
  /// another shape, or a state whose slots do not match it (e.g. restored from another model).
  public mutating func step(
    _ params: inout [String: Tensor], gradients: [String: Tensor], kinds: [String: ParameterSpec.Kind]
  ) throws {
    let names = params.keys.sorted()
    for name in names {
      guard let kind = kinds[name] else {
        throw ReferenceError(
          "optimizer step: parameter '\(name)' has no kind; expected weight, bias or a running statistic")
      }
      guard kind == .weight || kind == .bias else { continue }
      let p = params[name]!
      guard let g = gradients[name] else {
        throw ReferenceError("optimizer step: no gradient for trainable parameter '\(name)' of shape \(p.shape)")
      }
      guard g.shape == p.shape else {
        throw ReferenceError("optimizer step: gradient of '\(name)' has shape \(g.shape); expected \(p.shape)")
      }
      try checkState(of: name, shape: p.shape)
    }
    for name in names {
      guard let kind = kinds[name], kind == .weight || kind == .bias, let g = gradients[name] else { continue }
      var p = params[name]!
      var state = states[name] ?? freshState(shape: p.shape)
      update(&p, gradient: g, kind: kind, state: &state)
      params[name] = p
      states[name] = state
    }
  }

  /// Throws when a restored state does not fit the parameter.
  private func checkState(of name: String, shape: [Int]) throws {
    guard let state = states[name] else { return }
    for slot in optimizer.stateSlotNames {
      let expected = slot == "mu_product" ? [] : shape
      guard let t = state.slots[slot] else {
        throw ReferenceError("optimizer step: state of '\(name)' has no '\(slot)' slot, which \(optimizer.name) needs")
      }
      guard t.shape == expected else {
        throw ReferenceError("optimizer step: state '\(name).\(slot)' has shape \(t.shape); expected \(expected)")
      }
    }
  }

  /// The state before the first update: every buffer zero, `mu_product` one (as PyTorch initializes them).
  private func freshState(shape: [Int]) -> OptimizerState {
    var slots: [String: Tensor] = [:]
    for slot in optimizer.stateSlotNames {
      slots[slot] = slot == "mu_product" ? Tensor(repeating: 1, shape: []) : Tensor(zeros: shape)
    }
    return OptimizerState(step: 0, slots: slots)
  }

  /// Regularizes the gradient, applies the update rule, then the max-norm constraint.
  private func update(_ param: inout Tensor, gradient: Tensor, kind: ParameterSpec.Kind, state: inout OptimizerState) {
    let reg = regularization
    let decayed = reg.decays(kind: kind, dims: param.shape)
    var p = param.data.map(Double.init)
    var g = gradient.data.map(Double.init)
    if decayed {
      if case .adamw = optimizer {
        let keep = 1 - learningRate * reg.weightDecay
        for i in p.indices { p[i] *= keep }
      } else if reg.weightDecay != 0 {
        for i in p.indices { g[i] += reg.weightDecay * p[i] }
      }
      if reg.l1 != 0 {
        for i in p.indices { g[i] += reg.l1 * (p[i] > 0 ? 1 : p[i] < 0 ? -1 : 0) }
      }
    }
    state.step += 1
    var slots = state.slots.mapValues { $0.data.map(Double.init) }
    UpdateRule(optimizer: optimizer, learningRate: learningRate, step: state.step).apply(&p, g, &slots)
    for (slot, values) in slots { state.slots[slot]!.data = values.map(Float.init) }
    if let limit = reg.maxNorm, kind == .weight, param.shape.count >= 2 {
      Self.constrainRows(&p, rows: param.shape[0], limit)
    }
    param.data = p.map(Float.init)
  }

  /// Max-norm: every row of `p` (an output unit's incoming weights) with L2 norm n > `limit` is scaled by limit/n.
  static func constrainRows(_ p: inout [Double], rows: Int, _ limit: Double) {
    guard rows > 0 else { return }
    let width = p.count / rows
    for r in 0..<rows {
      let range = r * width..<(r + 1) * width
      let norm = range.reduce(0.0) { $0 + p[$1] * p[$1] }.squareRoot()
      guard norm > limit else { continue }
      let scale = limit / norm
      for i in range { p[i] *= scale }
    }
  }
}
