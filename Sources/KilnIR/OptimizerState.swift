// What an optimizer keeps and decays, as PyTorch defines it: shared by the reference optimizer and the C kernels.

extension Optimizer {
  /// The state slots the optimizer keeps per parameter, in PyTorch's names and in the order checkpoints,
  /// the reference optimizer and the C kernels' `opt_state` layout use. Every slot is shaped like its
  /// parameter except NAdam's `mu_product`, a scalar.
  public var stateSlotNames: [String] {
    switch self {
    case .sgd(_, let momentum, _, _): return momentum != 0 ? ["momentum_buffer"] : []
    case .adagrad: return ["sum"]
    case .rmsprop(_, _, _, let momentum): return momentum > 0 ? ["square_avg", "momentum_buffer"] : ["square_avg"]
    case .adadelta: return ["square_avg", "acc_delta"]
    case .adam(_, _, _, _, let ams), .adamw(_, _, _, _, let ams):
      return ams ? ["exp_avg", "exp_avg_sq", "max_exp_avg_sq"] : ["exp_avg", "exp_avg_sq"]
    case .adamax: return ["exp_avg", "exp_inf"]
    case .nadam: return ["exp_avg", "exp_avg_sq", "mu_product"]
    }
  }

  /// NAdam's `momentum_decay` (ψ), PyTorch's default; the spec does not expose it.
  public static let nadamMomentumDecay = 4e-3
}

extension Regularization {
  /// Whether weight decay and L1 apply to a parameter of `kind` and `dims`: weights of rank ≥ 2 always; biases
  /// and batch-norm γ (rank-1 weights) only when `decayBiases`; never running statistics.
  public func decays(kind: ParameterSpec.Kind, dims: [Int]) -> Bool {
    switch kind {
    case .weight: return dims.count >= 2 || decayBiases
    case .bias: return decayBiases
    case .runningMean, .runningVar: return false
    }
  }
}
