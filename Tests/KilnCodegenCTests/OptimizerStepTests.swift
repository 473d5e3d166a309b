// The optimizer-step kernel against ReferenceOptimizer: every optimizer over four steps, regularization, run-time lr, threads.
import KilnCodegenC
import KilnIR
import KilnReference
import KilnTestSupport
import Testing

@Suite struct OptimizerStepTests {
  /// One parameter and how it is trained.
  struct Case: Sendable, CustomTestStringConvertible {
    var label: String
    var optimizer: Optimizer
    var regularization = Regularization()
    var kind: ParameterSpec.Kind = .weight
    var dims: [Int]
    var testDescription: String { "\(label) \(kind.suffix) \(dims)" }

    var step: OptimizerStep {
      OptimizerStep(
        parameter: "p.\(kind.suffix)", kind: kind, dims: dims, optimizer: optimizer, regularization: regularization)
    }
  }

  /// Every optimizer and variant, with PyTorch's default hyper-parameters where it has them.
  static let optimizers: [(String, Optimizer)] = [
    ("sgd", .sgd(lr: 0.1, momentum: 0, dampening: 0, nesterov: false)),
    ("sgd-momentum-dampening", .sgd(lr: 0.1, momentum: 0.9, dampening: 0.1, nesterov: false)),
    ("nesterov", .sgd(lr: 0.1, momentum: 0.9, dampening: 0, nesterov: true)),
    ("adagrad", .adagrad(lr: 0.1, epsilon: 1e-10)),
    ("rmsprop", .rmsprop(lr: 0.01, alpha: 0.99, epsilon: 1e-8, momentum: 0)),
    ("rmsprop-momentum", .rmsprop(lr: 0.01, alpha: 0.99, epsilon: 1e-8, momentum: 0.9)),
    ("adadelta", .adadelta(lr: 1, rho: 0.9, epsilon: 1e-6)),
    ("adam", .adam(lr: 1e-3, beta1: 0.9, beta2: 0.999, epsilon: 1e-8, amsgrad: false)),
    ("amsgrad", .adam(lr: 1e-3, beta1: 0.9, beta2: 0.999, epsilon: 1e-8, amsgrad: true)),
    ("adamw", .adamw(lr: 1e-3, beta1: 0.9, beta2: 0.999, epsilon: 1e-8, amsgrad: false)),
    ("adamw-amsgrad", .adamw(lr: 1e-3, beta1: 0.9, beta2: 0.999, epsilon: 1e-8, amsgrad: true)),
    ("adamax", .adamax(lr: 2e-3, beta1: 0.9, beta2: 0.999, epsilon: 1e-8)),
    ("nadam", .nadam(lr: 2e-3, beta1: 0.9, beta2: 0.999, epsilon: 1e-8)),
  ]

  static func regularization(weightDecay: Double = 0, l1: Double = 0, maxNorm: Double? = nil, decayBiases: Bool = false)
    -> Regularization
  {
    var r = Regularization()
    r.weightDecay = weightDecay
    r.l1 = l1
    r.maxNorm = maxNorm
    r.decayBiases = decayBiases
    return r
  }

  /// Each optimizer on a dense weight, a bias and a conv weight, all with weight decay: it applies to the
  /// weights and must not touch the bias.
  static let optimizerCases: [Case] = optimizers.flatMap { label, optimizer in
    [[6, 5], [5], [4, 2, 3, 3]].map { dims in
      Case(
        label: label, optimizer: optimizer, regularization: regularization(weightDecay: 0.05),
        kind: dims.count == 1 ? .bias : .weight, dims: dims)
    }
  }

  static let adam = Optimizer.adam(lr: 1e-3, beta1: 0.9, beta2: 0.999, epsilon: 1e-8, amsgrad: false)
  static let adamw = Optimizer.adamw(lr: 1e-3, beta1: 0.9, beta2: 0.999, epsilon: 1e-8, amsgrad: false)
  static let momentum = Optimizer.sgd(lr: 0.1, momentum: 0.9, dampening: 0, nesterov: false)

  /// Coupled versus decoupled decay, decay of biases and batch-norm γ when asked, L1, and max-norm.
  static let regularizationCases: [Case] = [
    Case(label: "coupled decay", optimizer: adam, regularization: regularization(weightDecay: 0.1), dims: [6, 5]),
    Case(label: "decoupled decay", optimizer: adamw, regularization: regularization(weightDecay: 0.1), dims: [6, 5]),
    Case(
      label: "decayed bias", optimizer: momentum, regularization: regularization(weightDecay: 0.1, decayBiases: true),
      kind: .bias, dims: [5]),
    Case(
      label: "decayed bias", optimizer: adamw, regularization: regularization(weightDecay: 0.1, decayBiases: true),
      kind: .bias, dims: [5]),
    Case(
      label: "undecayed γ", optimizer: momentum, regularization: regularization(weightDecay: 0.1, l1: 0.1), dims: [5]),
    Case(
      label: "decayed γ", optimizer: momentum,
      regularization: regularization(weightDecay: 0.1, l1: 0.1, decayBiases: true), dims: [5]),
    Case(label: "L1", optimizer: momentum, regularization: regularization(l1: 0.02), dims: [6, 5]),
    Case(
      label: "L1 + decoupled decay", optimizer: adamw, regularization: regularization(weightDecay: 0.1, l1: 0.02),
      dims: [6, 5]),
    Case(label: "max-norm", optimizer: momentum, regularization: regularization(maxNorm: 1.2), dims: [6, 5]),
    Case(
      label: "max-norm + decay + L1", optimizer: adam,
      regularization: regularization(weightDecay: 0.01, l1: 0.01, maxNorm: 2.4), dims: [4, 2, 3, 3]),
    Case(
      label: "max-norm skips biases", optimizer: momentum, regularization: regularization(maxNorm: 0.1), kind: .bias,
      dims: [5]),
    Case(label: "max-norm skips γ", optimizer: momentum, regularization: regularization(maxNorm: 0.1), dims: [5]),
  ]

  /// Above the parallel threshold: rows of a max-norm weight and every value of a plain one on their own threads.
  static let threadCases: [Case] = [
    Case(
      label: "threads max-norm", optimizer: adam, regularization: regularization(weightDecay: 0.01, maxNorm: 8),
      dims: [300, 256]),
    Case(label: "threads", optimizer: .nadam(lr: 2e-3, beta1: 0.9, beta2: 0.999, epsilon: 1e-8), dims: [300, 256]),
  ]

  /// Checked against numbers worked out by hand rather than against the reference.
  static let handCases: [Case] = [
    Case(
      label: "hand sgd-momentum", optimizer: .sgd(lr: 0.5, momentum: 0.5, dampening: 0, nesterov: false), dims: [1, 2]),
    Case(label: "hand adam", optimizer: adam, dims: [6, 5]),
  ]

  static let cases = optimizerCases + regularizationCases + threadCases + handCases
  static func name(_ i: Int) -> String { "k\(i)_optimizer_step" }

  static let bench = Result {
    try KernelBench(
      cases.enumerated().map { i, c in
        try OptimizerStepKernel.make(name: name(i), step: c.step, options: KernelOptions())
      })
  }

  /// The learning rate of each step (a multiple of the optimizer's own, as a schedule would set it): a kernel
  /// reading a literal instead of `info->lr` fails from the first step.
  static func rates(_ c: Case) -> [Float] { [0.5, 2, 1, 0.25].map { Float(c.optimizer.learningRate * $0) } }

  /// Gradients whose size changes from step to step, so AMSGrad's running maximum and Adamax's ∞-norm both
  /// keep an earlier value at some step.
  static func gradients(_ c: Case, seed: UInt64) -> [Tensor] {
    var random = SeededRandom(seed: seed)
    return [1, 0.1, 2, 0.05].map { scale in random.tensor(c.dims, low: -Float(scale), high: Float(scale)) }
  }

  /// Runs four kernel steps of case `i` and the reference's alongside, from a random start that depends only on
  /// `seed` and the shape (so two cases can be compared). Returns the kernel's parameter and state after each
  /// step, and the reference's.
  static func trajectories(_ i: Int, threads: Int = 1, seed: UInt64 = 1)
    throws -> [(kernel: [String: [Float]], reference: [String: [Float]])]
  {
    let c = cases[i]
    let bench = try bench.get()
    try bench.setThreads(threads)
    let kernel = try #require(bench.kernels[name(i)])
    var random = SeededRandom(seed: seed)
    let start = random.tensor(c.dims)
    let parameter = c.step.parameter
    var state = ["param": start.data]
    for (slot, floats) in OptimizerStepKernel.stateSlots(of: c.step) {
      state[slot] = [Float](repeating: OptimizerStepKernel.initialValue(ofSlot: slot), count: floats)
    }
    var reference = ReferenceOptimizer(c.optimizer, regularization: c.regularization)
    var params = [parameter: start]
    var out: [(kernel: [String: [Float]], reference: [String: [Float]])] = []
    for (k, (lr, g)) in zip(rates(c), gradients(c, seed: seed)).enumerated() {
      state = try bench.run(
        kernel, n: 1, state.merging(["grad": g.data]) { $1 },
        stepInfo: KernelBench.StepInfo(lr: lr, step: Int64(k + 1), seed: 0))
      reference.learningRate = Double(lr)
      try reference.step(&params, gradients: [parameter: g], kinds: [parameter: c.kind])
      var expected = ["param": params[parameter]!.data]
      for (slot, t) in reference.states[parameter]?.slots ?? [:] { expected[slot] = t.data }
      out.append((state, expected))
    }
    return out
  }

  /// Expects the kernel's parameter and every state slot to match the reference after every step.
  ///
  /// rtol 1e-5, atol one float ulp (2⁻²³) of the slot's largest |value|: both compute each value from the same
  /// floats in the same order (max-norm too: the C recomputes each row before scaling it), but Kiln's builds let
  /// the compiler contract a·b + c into a fused multiply-add (`-ffp-contract=fast`), which rounds once where the
  /// reference rounds twice. Where β·m and (1 − β)·g nearly cancel, that one rounding of the terms is a large
  /// part of a small result (a [300, 256] Adam step: −2.11518e-4 against −2.11525e-4, 3e-5 relative, 7e-9
  /// absolute against terms near 0.03), so the absolute floor scales with the slot's magnitude. That case needs
  /// 2.3e-8 of the scale (it fails at 1e-8); one ulp, 1.2e-7, leaves a factor of 5.
  static func expectMatch(_ i: Int, threads: Int = 1) throws {
    let c = cases[i]
    for (k, step) in try trajectories(i, threads: threads).enumerated() {
      #expect(Set(step.kernel.keys) == Set(step.reference.keys), "\(c.testDescription): slots")
      for (slot, expected) in step.reference.sorted(by: { $0.key < $1.key }) {
        let shape = expected.count == 1 && slot == "mu_product" ? [] : c.dims
        let scale = Double(expected.map { abs($0) }.max() ?? 0)
        expectClose(
          Tensor(shape: shape, data: step.kernel[slot] ?? []), Tensor(shape: shape, data: expected), rtol: 1e-5,
          atol: Double(Float.ulpOfOne) * scale, "\(c.testDescription) step \(k + 1) \(slot)")
      }
    }
  }

  @Test(arguments: optimizerCases.indices)
  func everyOptimizerMatchesTheReference(_ i: Int) throws { try Self.expectMatch(i) }

  @Test(arguments: regularizationCases.indices)
  func regularizationMatchesTheReference(_ i: Int) throws { try Self.expectMatch(Self.optimizerCases.count + i) }

  @Test(arguments: threadCases.indices)
  func largeParametersMatchTheReferenceAndGiveTheSameBitsOnTwoThreads(_ i: Int) throws {
    let index = Self.optimizerCases.count + Self.regularizationCases.count + i
    try Self.expectMatch(index)
    let one = try Self.trajectories(index, threads: 1).map(\.kernel)
    let two = try Self.trajectories(index, threads: 2).map(\.kernel)
    #expect(one == two)
  }

  static func index(_ label: String, dims: [Int]) throws -> Int {
    try #require(cases.firstIndex { $0.label == label && $0.dims == dims }, "no case \(label) \(dims)")
  }

  /// AdamW's decoupled decay is not Adam's coupled one: from the same start and gradients they part ways.
  @Test func coupledAndDecoupledDecayDiffer() throws {
    let coupled = try Self.trajectories(Self.index("coupled decay", dims: [6, 5]))
    let decoupled = try Self.trajectories(Self.index("decoupled decay", dims: [6, 5]))
    let a = try #require(coupled.last?.kernel["param"])
    let b = try #require(decoupled.last?.kernel["param"])
    let gap = zip(a, b).map { abs($0 - $1) }.max() ?? 0
    #expect(gap > 1e-4, "largest difference \(gap)")
  }

  /// After every step no row of the max-norm weight is longer than the limit; at the first step some rows were
  /// scaled down to it and some were left alone, so both branches ran.
  @Test func maxNormBoundsEveryRowAndScalesOnlyTheLongOnes() throws {
    let limit = 1.2
    let steps = try Self.trajectories(Self.index("max-norm", dims: [6, 5]))
    var clipped = 0
    var free = 0
    for (k, step) in steps.enumerated() {
      let p = try #require(step.kernel["param"])
      for r in 0..<6 {
        let norm = p[r * 5..<(r + 1) * 5].reduce(0.0) { $0 + Double($1) * Double($1) }.squareRoot()
        #expect(norm <= limit * (1 + 1e-6), "step \(k + 1) row \(r): norm \(norm)")
        if k == 0 { if abs(norm - limit) < 1e-6 { clipped += 1 } else { free += 1 } }
      }
    }
    #expect(clipped > 0 && free > 0, "\(clipped) rows clipped, \(free) not")
  }

  /// SGD with momentum μ = 0.5, γ = 0.5 from p₀ = [1, −2], gradients [1, 2], [2, −2], [0, 4] (see OptimizerTests):
  /// b = [1, 2], p = [0.5, −3]; b = [2.5, −1], p = [−0.75, −2.5]; b = [1.25, 3.5], p = [−1.375, −4.25].
  @Test func momentumSGDMatchesHandWorkedSteps() throws {
    let bench = try Self.bench.get()
    let i = try Self.index("hand sgd-momentum", dims: [1, 2])
    let kernel = try #require(bench.kernels[Self.name(i)])
    var state: [String: [Float]] = ["param": [1, -2], "momentum_buffer": [0, 0]]
    let expected: [[Float]] = [[0.5, -3], [-0.75, -2.5], [-1.375, -4.25]]
    let buffers: [[Float]] = [[1, 2], [2.5, -1], [1.25, 3.5]]
    for (k, g) in [[1, 2], [2, -2], [0, 4] as [Float]].enumerated() {
      state = try bench.run(
        kernel, n: 1, state.merging(["grad": g]) { $1 },
        stepInfo: KernelBench.StepInfo(lr: 0.5, step: Int64(k + 1), seed: 0))
      #expect(state["param"] == expected[k], "step \(k + 1)")
      #expect(state["momentum_buffer"] == buffers[k], "step \(k + 1)")
    }
  }

  /// Adam's first step moves each value by almost exactly γ against the gradient's sign: m̂ = g and √v̂ = |g|,
  /// so the step is γ·g/(|g| + ε).
  @Test func adamFirstStepIsTheLearningRateAgainstTheGradientSign() throws {
    let i = try Self.index("hand adam", dims: [6, 5])
    let first = try #require(try Self.trajectories(i).first?.kernel["param"])
    var random = SeededRandom(seed: 1)
    let start = random.tensor([6, 5]).data
    let g = Self.gradients(Self.cases[i], seed: 1)[0].data
    let lr = Double(Self.rates(Self.cases[i])[0])
    for j in start.indices {
      let expected = Double(start[j]) - lr * (g[j] > 0 ? 1 : -1)
      #expect(abs(Double(first[j]) - expected) <= 1e-6, "value \(j): \(first[j]) vs \(expected)")
    }
  }

  /// The slots are the reference's, in its order, shaped like the parameter except NAdam's scalar `mu_product`.
  @Test(arguments: optimizers.map(\.1))
  func stateSlotsAreTheReferenceOptimizers(_ optimizer: Optimizer) {
    let step = OptimizerStep(
      parameter: "fc.weight", kind: .weight, dims: [6, 5], optimizer: optimizer, regularization: Regularization())
    let slots = OptimizerStepKernel.stateSlots(of: step)
    #expect(slots.map(\.slot) == optimizer.stateSlotNames)
    for (slot, floats) in slots {
      #expect(floats == (slot == "mu_product" ? 1 : 30), "\(slot)")
      #expect(OptimizerStepKernel.initialValue(ofSlot: slot) == (slot == "mu_product" ? 1 : 0), "\(slot)")
    }
  }

  /// Running statistics are not trained, and a shape with an empty dimension is refused, naming the parameter.
  @Test(arguments: [(ParameterSpec.Kind.runningMean, [4]), (.weight, [3, 0])])
  func untrainableParametersAndEmptyShapesAreRefused(kind: ParameterSpec.Kind, dims: [Int]) {
    let step = OptimizerStep(
      parameter: "bn.\(kind.suffix)", kind: kind, dims: dims, optimizer: Self.adam, regularization: Regularization())
    #expect {
      try OptimizerStepKernel.make(name: "k1_optimizer_step", step: step, options: KernelOptions())
    } throws: { error in
      "\(error)".contains("bn.\(kind.suffix)") && error is KernelShapeError
    }
  }
}
