// Every reference optimizer over three steps against numbers worked out from PyTorch's formulas, and its defaults.
import KilnFrontend
import KilnIR
import Testing

@testable import KilnReference

/// An optimizer, the gradient of each step, and the parameter expected after each step.
struct OptimizerCase: Sendable, CustomTestStringConvertible {
  var name: String
  var optimizer: Optimizer
  var start: [Float] = OptimizerCase.start
  var gradients: [[Float]] = OptimizerCase.gradients
  var expected: [[Float]]
  var testDescription: String { name }

  /// p₀ = [1, −1]; the first element sees a constant gradient, the second one that changes sign and size.
  static let start: [Float] = [1, -1]
  static let gradients: [[Float]] = [[0.5, 1], [0.5, -1], [0.5, 2]]
}

/// Runs `steps` updates of a rank-2 weight `fc.weight` [1, n] starting at `start`; returns it after each step.
func trajectory(
  _ optimizer: inout ReferenceOptimizer, start: [Float], gradients: [[Float]], kind: ParameterSpec.Kind = .weight
) throws -> [[Float]] {
  let shape = kind == .weight ? [1, start.count] : [start.count]
  var params = ["fc.weight": Tensor(shape: shape, data: start)]
  var out: [[Float]] = []
  for g in gradients {
    try optimizer.step(&params, gradients: ["fc.weight": Tensor(shape: shape, data: g)], kinds: ["fc.weight": kind])
    out.append(params["fc.weight"]!.data)
  }
  return out
}

/// Expects every step's parameters within `tolerance` (relative to max(1, |expected|)) of `expected`.
func expectTrajectory(
  _ actual: [[Float]], _ expected: [[Float]], tolerance: Double = 2e-6,
  sourceLocation: Testing.SourceLocation = #_sourceLocation
) {
  #expect(actual.count == expected.count, sourceLocation: sourceLocation)
  for (step, (a, e)) in zip(actual, expected).enumerated() {
    for (x, y) in zip(a, e) where !(abs(Double(x) - Double(y)) <= tolerance * max(1, abs(Double(y)))) {
      Issue.record("step \(step + 1): \(a) vs expected \(e)", sourceLocation: sourceLocation)
      break
    }
  }
}

@Suite struct OptimizerTests {
  // The expected values below come from the update formulas in UpdateRules.swift evaluated by hand (in Double);
  // the arithmetic is written out for SGD with momentum, Nesterov and Adam.
  static let cases: [OptimizerCase] = [
    // Plain SGD, γ = 0.5: p ← p − γ·g.  [1, −2] → [0.5, −3] → [−0.5, −2] → [−0.5, −4].
    OptimizerCase(
      name: "sgd", optimizer: .sgd(lr: 0.5, momentum: 0, dampening: 0, nesterov: false),
      start: [1, -2], gradients: [[1, 2], [2, -2], [0, 4]], expected: [[0.5, -3], [-0.5, -2], [-0.5, -4]]),
    // SGD momentum μ = 0.5, γ = 0.5, gradients [1, 2], [2, −2], [0, 4], p₀ = [1, −2]:
    //   t1: b = g = [1, 2];                         p = [1 − 0.5, −2 − 1]       = [0.5, −3]
    //   t2: b = 0.5·[1, 2] + [2, −2] = [2.5, −1];   p = [0.5 − 1.25, −3 + 0.5]  = [−0.75, −2.5]
    //   t3: b = 0.5·[2.5, −1] + [0, 4] = [1.25, 3.5]; p = [−0.75 − 0.625, −2.5 − 1.75] = [−1.375, −4.25]
    OptimizerCase(
      name: "sgd-momentum", optimizer: .sgd(lr: 0.5, momentum: 0.5, dampening: 0, nesterov: false),
      start: [1, -2], gradients: [[1, 2], [2, -2], [0, 4]], expected: [[0.5, -3], [-0.75, -2.5], [-1.375, -4.25]]),
    // Dampening τ = 0.5 is skipped on the first step (b = g), then b = 0.5·b + 0.5·g:
    //   t1: b = [1, 2], p = [0.5, −3]; t2: b = [1.5, 0], p = [−0.25, −3]; t3: b = [0.75, 2], p = [−0.625, −4].
    OptimizerCase(
      name: "sgd-dampening", optimizer: .sgd(lr: 0.5, momentum: 0.5, dampening: 0.5, nesterov: false),
      start: [1, -2], gradients: [[1, 2], [2, -2], [0, 4]], expected: [[0.5, -3], [-0.25, -3], [-0.625, -4]]),
    // Nesterov, same b as sgd-momentum, step direction d = g + μ·b:
    //   t1: d = [1 + 0.5, 2 + 1] = [1.5, 3];          p = [1 − 0.75, −2 − 1.5]        = [0.25, −3.5]
    //   t2: d = [2 + 1.25, −2 − 0.5] = [3.25, −2.5];   p = [0.25 − 1.625, −3.5 + 1.25] = [−1.375, −2.25]
    //   t3: d = [0 + 0.625, 4 + 1.75] = [0.625, 5.75]; p = [−1.375 − 0.3125, −2.25 − 2.875] = [−1.6875, −5.125]
    OptimizerCase(
      name: "nesterov", optimizer: .sgd(lr: 0.5, momentum: 0.5, dampening: 0, nesterov: true),
      start: [1, -2], gradients: [[1, 2], [2, -2], [0, 4]],
      expected: [[0.25, -3.5], [-1.375, -2.25], [-1.6875, -5.125]]),
    // s ← s + g²; p ← p − 0.1·g/√s. Element 1, g = 1, −1, 2: s = 1, 2, 6; p = −1.1, −1.1 + 0.1/√2, … − 0.2/√6.
    OptimizerCase(
      name: "adagrad", optimizer: .adagrad(lr: 0.1, epsilon: 1e-10),
      expected: [[0.9, -1.1], [0.829289322, -1.029289322], [0.771554295, -1.11093898]]),
    OptimizerCase(
      name: "rmsprop", optimizer: .rmsprop(lr: 0.01, alpha: 0.99, epsilon: 1e-8, momentum: 0),
      expected: [[0.90000002, -1.09999999], [0.82911191, -1.029111875], [0.771087008, -1.110965737]]),
    OptimizerCase(
      name: "rmsprop-momentum", optimizer: .rmsprop(lr: 0.01, alpha: 0.99, epsilon: 1e-8, momentum: 0.9),
      expected: [[0.90000002, -1.09999999], [0.739111928, -1.119111866], [0.536287743, -1.218166416]]),
    OptimizerCase(
      name: "adadelta", optimizer: .adadelta(lr: 1, rho: 0.9, epsilon: 1e-6),
      expected: [[0.996837786, -1.003162262], [0.993593424, -0.99991785], [0.990292687, -1.00446579]]),
    // Adam γ = 0.1, β = (0.9, 0.999). Element 0 has a constant g, so m̂ = g, v̂ = g² and each step moves
    // γ·g/(|g| + ε) ≈ 0.1: 1 → 0.9 → 0.8 → 0.7. Element 1, g = 1, −1, 2:
    //   t1: m = 0.1, v = 0.001; m̂ = 1, v̂ = 1; p = −1 − 0.1 = −1.1
    //   t2: m = 0.09 − 0.1 = −0.01, v = 0.000999 + 0.001 = 0.001999; m̂ = −0.01/0.19 = −0.0526316,
    //       v̂ = 0.001999/0.001999 = 1; p = −1.1 + 0.00526316 = −1.0947368
    //   t3: m = −0.009 + 0.2 = 0.191, v = 0.001997001 + 0.004 = 0.005997001; m̂ = 0.191/0.271 = 0.7047970,
    //       v̂ = 0.005997001/0.002997001 = 2.001001, √v̂ = 1.4145674; p = −1.0947368 − 0.0498242 = −1.1445611
    OptimizerCase(
      name: "adam", optimizer: .adam(lr: 0.1, beta1: 0.9, beta2: 0.999, epsilon: 1e-8, amsgrad: false),
      expected: [[0.900000002, -1.099999999], [0.800000004, -1.094736841], [0.700000006, -1.144561055]]),
    // With g = 2, 0, 0 the second moment falls after the first step (v = 0.004, 0.003996, 0.003992), so AMSGrad's
    // max(v̂) = 0.004 gives a smaller denominator and larger steps than Adam's v (next case).
    OptimizerCase(
      name: "adam-falling-v", optimizer: .adam(lr: 0.1, beta1: 0.9, beta2: 0.999, epsilon: 1e-8, amsgrad: false),
      gradients: [[2, 1], [0, 1], [0, 1]],
      expected: [[0.9, -1.099999999], [0.832994176, -1.199999998], [0.781198479, -1.299999997]]),
    OptimizerCase(
      name: "amsgrad-falling-v", optimizer: .adam(lr: 0.1, beta1: 0.9, beta2: 0.999, epsilon: 1e-8, amsgrad: true),
      gradients: [[2, 1], [0, 1], [0, 1]],
      expected: [[0.9, -1.099999999], [0.833027687, -1.199999998], [0.781283786, -1.299999997]]),
    // Without decay AdamW is Adam.
    OptimizerCase(
      name: "adamw-no-decay", optimizer: .adamw(lr: 0.1, beta1: 0.9, beta2: 0.999, epsilon: 1e-8, amsgrad: false),
      expected: [[0.900000002, -1.099999999], [0.800000004, -1.094736841], [0.700000006, -1.144561055]]),
    // u = max(0.999·u, |g| + ε): element 1 has u = 1, 0.999, 2; p ← p − (0.1/(1 − 0.9ᵗ))·m/u.
    OptimizerCase(
      name: "adamax", optimizer: .adamax(lr: 0.1, beta1: 0.9, beta2: 0.999, epsilon: 1e-8),
      expected: [[0.900000002, -1.099999999], [0.800000004, -1.094736841], [0.700000006, -1.129976693]]),
    OptimizerCase(
      name: "nadam", optimizer: .nadam(lr: 0.1, beta1: 0.9, beta2: 0.999, epsilon: 1e-8),
      expected: [[0.894354824, -1.105645177], [0.81598639, -1.036194099], [0.742764678, -1.128067515]]),
  ]

  @Test(arguments: cases)
  func threeSteps(_ c: OptimizerCase) throws {
    var optimizer = ReferenceOptimizer(c.optimizer)
    expectTrajectory(try trajectory(&optimizer, start: c.start, gradients: c.gradients), c.expected)
    #expect(optimizer.states["fc.weight"]?.step == 3)
    #expect(
      optimizer.states["fc.weight"]?.slots.keys.sorted() == c.optimizer.stateSlotNames.sorted())
  }
}
