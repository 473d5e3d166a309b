// The optimizer state slots and the decay rule, pinned to PyTorch's names (torch.optim's `state[p]` keys).
import KilnIR
import Testing

@Suite struct OptimizerStateTests {
  @Test func slotNamesArePyTorchs() {
    let table: [(Optimizer, [String])] = [
      (.sgd(lr: 0.1, momentum: 0, dampening: 0, nesterov: false), []),
      (.sgd(lr: 0.1, momentum: 0.9, dampening: 0, nesterov: true), ["momentum_buffer"]),
      (.adagrad(lr: 0.01, epsilon: 1e-10), ["sum"]),
      (.rmsprop(lr: 0.01, alpha: 0.99, epsilon: 1e-8, momentum: 0), ["square_avg"]),
      (.rmsprop(lr: 0.01, alpha: 0.99, epsilon: 1e-8, momentum: 0.5), ["square_avg", "momentum_buffer"]),
      (.adadelta(lr: 1, rho: 0.9, epsilon: 1e-6), ["square_avg", "acc_delta"]),
      (.adam(lr: 1e-3, beta1: 0.9, beta2: 0.999, epsilon: 1e-8, amsgrad: false), ["exp_avg", "exp_avg_sq"]),
      (.adam(lr: 1e-3, beta1: 0.9, beta2: 0.999, epsilon: 1e-8, amsgrad: true), ["exp_avg", "exp_avg_sq", "max_exp_avg_sq"]),
      (.adamw(lr: 1e-3, beta1: 0.9, beta2: 0.999, epsilon: 1e-8, amsgrad: false), ["exp_avg", "exp_avg_sq"]),
      (.adamax(lr: 2e-3, beta1: 0.9, beta2: 0.999, epsilon: 1e-8), ["exp_avg", "exp_inf"]),
      (.nadam(lr: 2e-3, beta1: 0.9, beta2: 0.999, epsilon: 1e-8), ["exp_avg", "exp_avg_sq", "mu_product"]),
    ]
    for (optimizer, names) in table { #expect(optimizer.stateSlotNames == names, "\(optimizer)") }
    #expect(Optimizer.nadamMomentumDecay == 4e-3)
  }

  @Test func decayAppliesToMatrixWeightsAndToTheRestOnlyWhenAsked() {
    var r = Regularization()
    #expect(r.decays(kind: .weight, dims: [4, 3]))
    #expect(r.decays(kind: .weight, dims: [4, 3, 3, 3]))
    #expect(!r.decays(kind: .weight, dims: [4]), "batch-norm γ")
    #expect(!r.decays(kind: .bias, dims: [4]))
    #expect(!r.decays(kind: .runningMean, dims: [4]))
    r.decayBiases = true
    #expect(r.decays(kind: .weight, dims: [4]))
    #expect(r.decays(kind: .bias, dims: [4]))
    #expect(!r.decays(kind: .runningVar, dims: [4]))
  }
}
