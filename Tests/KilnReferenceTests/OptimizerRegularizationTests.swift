// Weight decay (coupled, decoupled, not on biases), L1, max-norm, bad inputs, and the spec's optimizer defaults.
import KilnFrontend
import KilnIR
import Testing

@testable import KilnReference

@Suite struct OptimizerRegularizationTests {
  /// A dense weight, its bias, a batch norm's γ, β and running mean, all [1, −2]-like, with zero gradients.
  static func layerParameters() -> (
    params: [String: Tensor], gradients: [String: Tensor], kinds: [String: ParameterSpec.Kind]
  ) {
    let params = [
      "fc.weight": Tensor(shape: [1, 2], data: [1, -2]), "fc.bias": Tensor(shape: [2], data: [1, -2]),
      "bn.weight": Tensor(shape: [2], data: [1, -2]), "bn.bias": Tensor(shape: [2], data: [1, -2]),
      "bn.running_mean": Tensor(shape: [2], data: [1, -2]),
    ]
    let kinds: [String: ParameterSpec.Kind] = [
      "fc.weight": .weight, "fc.bias": .bias, "bn.weight": .weight, "bn.bias": .bias, "bn.running_mean": .runningMean,
    ]
    var gradients = params.mapValues { Tensor(zeros: $0.shape) }
    gradients["bn.running_mean"] = nil
    return (params, gradients, kinds)
  }

  @Test func coupledDecayReachesOnlyWeightsUnlessAsked() throws {
    // SGD γ = 0.5, wd = 0.5, g = 0: g ← 0.5·p, p ← p − 0.25·p = 0.75·p.
    var regularization = Regularization()
    regularization.weightDecay = 0.5
    var (params, gradients, kinds) = Self.layerParameters()
    var sgd = ReferenceOptimizer(
      .sgd(lr: 0.5, momentum: 0, dampening: 0, nesterov: false), regularization: regularization)
    try sgd.step(&params, gradients: gradients, kinds: kinds)
    #expect(params["fc.weight"]!.data == [0.75, -1.5])
    for name in ["fc.bias", "bn.weight", "bn.bias", "bn.running_mean"] {
      #expect(params[name]!.data == [1, -2], "\(name)")
    }
    #expect(sgd.states["bn.running_mean"] == nil)

    regularization.decayBiases = true
    (params, gradients, kinds) = Self.layerParameters()
    sgd = ReferenceOptimizer(.sgd(lr: 0.5, momentum: 0, dampening: 0, nesterov: false), regularization: regularization)
    try sgd.step(&params, gradients: gradients, kinds: kinds)
    for name in ["fc.weight", "fc.bias", "bn.weight", "bn.bias"] {
      #expect(params[name]!.data == [0.75, -1.5], "\(name)")
    }
    #expect(params["bn.running_mean"]!.data == [1, -2])
  }

  @Test func adamCouplesDecayAndAdamWDecouplesIt() throws {
    // γ = 0.1, wd = 0.1, gradients of OptimizerCase. Adam adds 0.1·p to g before the moments; AdamW first scales
    // p by 1 − γ·wd = 0.99 and then takes Adam's step: t1 = 1·0.99 − 0.1 = 0.89 and −1·0.99 − 0.1 = −1.09.
    var regularization = Regularization()
    regularization.weightDecay = 0.1
    var adam = ReferenceOptimizer(
      .adam(lr: 0.1, beta1: 0.9, beta2: 0.999, epsilon: 1e-8, amsgrad: false), regularization: regularization)
    var adamw = ReferenceOptimizer(
      .adamw(lr: 0.1, beta1: 0.9, beta2: 0.999, epsilon: 1e-8, amsgrad: false), regularization: regularization)
    let coupled = try trajectory(&adam, start: OptimizerCase.start, gradients: OptimizerCase.gradients)
    let decoupled = try trajectory(&adamw, start: OptimizerCase.start, gradients: OptimizerCase.gradients)
    expectTrajectory(
      coupled, [[0.900000002, -1.099999999], [0.80004734, -1.084374939], [0.700174575, -1.128081404]])
    expectTrajectory(
      decoupled, [[0.890000002, -1.089999999], [0.781100004, -1.073836841], [0.673289006, -1.112922687]])

    // On a bias neither decays: both follow plain Adam.
    adamw = ReferenceOptimizer(
      .adamw(lr: 0.1, beta1: 0.9, beta2: 0.999, epsilon: 1e-8, amsgrad: false), regularization: regularization)
    let bias = try trajectory(&adamw, start: OptimizerCase.start, gradients: OptimizerCase.gradients, kind: .bias)
    expectTrajectory(bias, [[0.900000002, -1.099999999], [0.800000004, -1.094736841], [0.700000006, -1.144561055]])
  }

  @Test func l1AddsTheSignOfEachWeight() throws {
    // SGD γ = 0.5, l1 = 0.5, g = 0: p ← p − 0.25·sign(p); sign(0) = 0.
    var regularization = Regularization()
    regularization.l1 = 0.5
    var sgd = ReferenceOptimizer(
      .sgd(lr: 0.5, momentum: 0, dampening: 0, nesterov: false), regularization: regularization)
    let path = try trajectory(&sgd, start: [1, -2, 0], gradients: [[0, 0, 0], [0, 0, 0]])
    #expect(path == [[0.75, -1.75, 0], [0.5, -1.5, 0]])
  }

  @Test func maxNormRescalesRowsOverTheLimit() throws {
    // Limit 2. Dense rows [3, 4] (norm 5 → ×2/5 = [1.2, 1.6]) and [0.6, 0.8] (norm 1, kept); a conv weight
    // [2, 1, 1, 2] is constrained per output channel the same way; a bias [3, 4] is never constrained.
    var regularization = Regularization()
    regularization.maxNorm = 2
    var sgd = ReferenceOptimizer(
      .sgd(lr: 0.1, momentum: 0, dampening: 0, nesterov: false), regularization: regularization)
    var params = [
      "fc.weight": Tensor(shape: [2, 2], data: [3, 4, 0.6, 0.8]),
      "conv.weight": Tensor(shape: [2, 1, 1, 2], data: [0, 0.5, 6, -8]),
      "fc.bias": Tensor(shape: [2], data: [3, 4]),
    ]
    let kinds: [String: ParameterSpec.Kind] = ["fc.weight": .weight, "conv.weight": .weight, "fc.bias": .bias]
    try sgd.step(&params, gradients: params.mapValues { Tensor(zeros: $0.shape) }, kinds: kinds)
    expectClose(params["fc.weight"]!, Tensor(shape: [2, 2], data: [1.2, 1.6, 0.6, 0.8]), tolerance: 1e-6)
    expectClose(params["conv.weight"]!, Tensor(shape: [2, 1, 1, 2], data: [0, 0.5, 1.2, -1.6]), tolerance: 1e-6)
    #expect(params["fc.bias"]!.data == [3, 4])
  }

  @Test func badInputsThrowAndChangeNothing() {
    var sgd = ReferenceOptimizer(.sgd(lr: 0.1, momentum: 0.9, dampening: 0, nesterov: false))
    let w = Tensor(shape: [1, 2], data: [1, 2])
    var params = ["a.weight": w, "b.weight": w]
    let kinds: [String: ParameterSpec.Kind] = ["a.weight": .weight, "b.weight": .weight]
    let good = Tensor(shape: [1, 2], data: [1, 1])
    let failures: [(gradients: [String: Tensor], kinds: [String: ParameterSpec.Kind], message: String)] = [
      (["a.weight": good], kinds, "optimizer step: no gradient for trainable parameter 'b.weight' of shape [1, 2]"),
      (
        ["a.weight": good, "b.weight": Tensor(zeros: [2])], kinds,
        "optimizer step: gradient of 'b.weight' has shape [2]; expected [1, 2]"
      ),
      (
        ["a.weight": good, "b.weight": good], ["a.weight": .weight],
        "optimizer step: parameter 'b.weight' has no kind; expected weight, bias or a running statistic"
      ),
    ]
    for f in failures {
      #expect(throws: ReferenceError(f.message)) {
        try sgd.step(&params, gradients: f.gradients, kinds: f.kinds)
      }
      #expect(params == ["a.weight": w, "b.weight": w])
      #expect(sgd.states.isEmpty)
    }
    sgd.states["a.weight"] = OptimizerState(step: 1, slots: ["momentum_buffer": Tensor(zeros: [3])])
    #expect(throws: ReferenceError("optimizer step: state 'a.weight.momentum_buffer' has shape [3]; expected [1, 2]")) {
      try sgd.step(&params, gradients: ["a.weight": good, "b.weight": good], kinds: kinds)
    }
  }

  /// Each optimizer as the spec writes it with no arguments, and its first step from p = 1 with g = 0.5 under
  /// PyTorch's documented defaults (written out here, independently of the frontend's table).
  struct DefaultCase: Sendable, CustomTestStringConvertible {
    var spelling: String
    var slots: [String]
    var expected: Float
    var testDescription: String { spelling }
  }

  static let defaults = [
    DefaultCase(spelling: "sgd", slots: [], expected: 0.995),  // lr 0.01, momentum 0: 1 − 0.01·0.5
    DefaultCase(spelling: "adagrad", slots: ["sum"], expected: 0.99),  // lr 0.01, eps 1e-10: 1 − 0.01·0.5/0.5
    // lr 0.01, alpha 0.99, eps 1e-8: v = 0.01·0.25, 1 − 0.01·0.5/(0.05 + 1e-8)
    DefaultCase(spelling: "rmsprop", slots: ["square_avg"], expected: 0.90000002),
    // lr 1, rho 0.9, eps 1e-6: v = 0.025, Δ = √1e-6/√(0.025 + 1e-6)·0.5
    DefaultCase(spelling: "adadelta", slots: ["acc_delta", "square_avg"], expected: 0.99683779),
    DefaultCase(spelling: "adam", slots: ["exp_avg", "exp_avg_sq"], expected: 0.999),  // lr 1e-3: a step of lr
    DefaultCase(spelling: "amsgrad", slots: ["exp_avg", "exp_avg_sq", "max_exp_avg_sq"], expected: 0.999),
    DefaultCase(spelling: "adamw", slots: ["exp_avg", "exp_avg_sq"], expected: 0.999),  // weight_decay 0 in the spec
    DefaultCase(spelling: "adamax", slots: ["exp_avg", "exp_inf"], expected: 0.998),  // lr 2e-3: a step of lr
    // lr 2e-3, ψ 4e-3: μ₁ = 0.9·(1 − 0.5·0.96^0.004) = 0.4500735, μ₂ = 0.4501469;
    // 1 − 0.002·1 − 0.002·μ₂/(1 − μ₁μ₂)·0.1 = 0.9978871
    DefaultCase(spelling: "nadam", slots: ["exp_avg", "exp_avg_sq", "mu_product"], expected: 0.99788710),
  ]

  @Test(arguments: defaults)
  func specDefaultsArePyTorchs(_ c: DefaultCase) throws {
    let spec =
      "network n\ninput x: f32[2]\ndense d (units: 1)\noutput y\ntrain {\n  loss: mse(y, t)\n  optimizer: \(c.spelling)\n}\n"
    let parsed = Frontend.parse(spec, file: "defaults.kiln")
    #expect(parsed.diagnostics.isEmpty, "\(parsed.diagnostics)")
    let training = try #require(parsed.graph?.training)
    var optimizer = ReferenceOptimizer(training.optimizer, regularization: training.regularization)
    var params = ["d.weight": Tensor(shape: [1, 1], data: [1])]
    try optimizer.step(
      &params, gradients: ["d.weight": Tensor(shape: [1, 1], data: [0.5])], kinds: ["d.weight": .weight])
    expectClose(Double(params["d.weight"]!.data[0]), Double(c.expected), tolerance: 1e-7)
    #expect(optimizer.states["d.weight"]!.slots.keys.sorted() == c.slots)
    if c.spelling == "nadam" { #expect(optimizer.states["d.weight"]!.slots["mu_product"]!.data == [Float(0.45007347)]) }
  }
}
