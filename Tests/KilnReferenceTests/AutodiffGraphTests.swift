// The autodiff and optimizer-step passes, checked numerically: the interpreter running the differentiated graph
// gives the reference gradients (`Interpreter.gradients`, itself checked by finite differences), and its train
// step gives what the reference optimizer makes of them.
import Foundation
import KilnData
import KilnFrontend
import KilnIR
import KilnPasses
import KilnReference
import KilnTestSupport
import Testing

/// The training pipeline (shape inference … autodiff, optimizer-step) with the verifier after every pass.
func differentiated(_ graph: Graph) throws -> Graph {
  var options = PassOptions()
  options.mode = .training
  options.verify = true
  var g = graph
  let problems = try Pipeline(options: options).run(&g)
  guard !problems.contains(where: { $0.severity == .error }) else { throw DiagnosticError(problems) }
  #expect(Verifier.verify(g, requireTypes: true).isEmpty)
  return g
}

/// A spec text, shape-checked, with seeded parameters and a batch of random data and targets.
func trainingSetup(spec: String, batch: Int) throws -> (Interpreter, [String: AnyTensor]) {
  let url = FileManager.default.temporaryDirectory.appendingPathComponent("kiln-autodiff-\(UUID().uuidString).kiln")
  try spec.write(to: url, atomically: true, encoding: .utf8)
  defer { try? FileManager.default.removeItem(at: url) }
  return try trainingSetup(url.path, batch: batch)
}

/// One network to differentiate: an example file or an inline spec.
struct AutodiffCase: Sendable, CustomTestStringConvertible {
  let name: String
  let spec: String?
  let batch: Int
  var testDescription: String { name }

  func setup() throws -> (Interpreter, [String: AnyTensor]) {
    if let spec { return try trainingSetup(spec: spec, batch: batch) }
    return try trainingSetup(name, batch: batch)
  }

  static let all: [AutodiffCase] = [
    AutodiffCase(name: "mlp.kiln", spec: nil, batch: 3),
    AutodiffCase(name: "mlp_3_5_4_5_2.kiln", spec: nil, batch: 4),
    AutodiffCase(name: "lenet5.kiln", spec: nil, batch: 2),
    AutodiffCase(name: "resnet_block.kiln", spec: nil, batch: 2),
    AutodiffCase(name: "every-op", spec: everyOp, batch: 3),
    AutodiffCase(name: "bce-and-sigmoid", spec: bce, batch: 4),
    AutodiffCase(name: "mae-and-elu", spec: mae, batch: 4),
  ]

  /// Every op with a backward rule, with several readers for some values (fan-in sums).
  static let everyOp = """
    network every_op
    input x: f32[3, 9, 9]
    conv c1 (filters: 4, kernel: 3, stride: 2, padding: 1, activation: relu6)
    conv dw (filters: 4, kernel: 3, padding: 2, dilation: 2, groups: 4, bias: false) <- c1
    batchnorm bn <- dw
    leaky_relu lr (alpha: 0.1) <- bn
    lrn norm (size: 3) <- lr
    maxpool mp (kernel: 3, stride: 1, padding: 1) <- norm
    avgpool ap (kernel: 2, stride: 1, count_include_pad: false) <- c1
    conv side (filters: 4, kernel: 2, activation: tanh) <- mp
    mul gate <- side, ap
    add res <- gate, ap
    concat cat <- res, ap
    dropout drop (rate: 0.3) <- cat
    global_avgpool gap <- drop
    dense d1 (units: 6, activation: sigmoid) <- gap
    reshape r (shape: [2, 3]) <- d1
    flatten f <- r
    dense d2 (units: 5, activation: elu) <- f
    dense logits (units: 4) <- d2
    output y <- logits

    train {
      loss: softmax_cross_entropy(y, labels)
      batch: 3
    }
    """

  static let bce = """
    network bce
    input x: f32[7]
    dense h (units: 5, activation: softmax)
    dense o (units: 3)
    output y
    train {
      loss: bce_with_logits(y, target)
      batch: 4
    }
    """

  static let mae = """
    network mae
    input x: f32[2, 6, 6]
    conv c (filters: 3, kernel: 3, activation: elu)
    avgpool p (kernel: 2, padding: 1, rounding: ceil)
    flatten f
    dense h (units: 4, activation: log_softmax)
    dense o (units: 2)
    output y
    train {
      loss: mae(y, target)
      batch: 4
    }
    """
}

@Suite struct AutodiffGraphTests {
  @Test(arguments: AutodiffCase.all)
  func differentiatedGraphGivesTheReferenceGradients(_ c: AutodiffCase) throws {
    let (forward, inputs) = try c.setup()
    let expected = try forward.gradients(inputs, seed: 11)
    let graph = try differentiated(forward.graph)
    let result = try Interpreter(graph: graph, parameters: forward.parameters).run(inputs, mode: .training(seed: 11))
    #expect(result.loss == expected.loss)
    var checked = 0
    for (name, want) in expected.parameterGradients.sorted(by: { $0.key < $1.key }) {
      guard let node = graph.node(named: "\(name).grad"), let got = result.values[node.id] else {
        Issue.record("\(c.name): no gradient node '\(name).grad'")
        continue
      }
      // The graph rounds every intermediate gradient to Float and sums several readers' contributions in
      // Float; the reference keeps Double until the end. Measured: at most 2.5e-7 of the largest entry (mae-and-elu c.bias);
      // allowed: 2e-6.
      let scale = Double(want.data.map(abs).max() ?? 0)
      expectClose(got, want, rtol: 1e-4, atol: max(2e-6 * scale, 1e-9), "\(c.name) \(name)")
      checked += 1
    }
    #expect(checked == expected.parameterGradients.count)
    let steps = graph.nodes.filter { if case .optimizerStep = $0.op { return true } else { return false } }
    #expect(steps.count == checked, "one optimizer step per trainable parameter")
  }

  @Test func aGraphWithoutALossIsAClearError() throws {
    let parsed = Frontend.parse("network n\ninput x: f32[3]\ndense d (units: 2)\noutput y\n", file: "n.kiln")
    var graph = try #require(parsed.graph)
    _ = ShapeInference().run(on: &graph)
    let problems = Autodiff(mode: .training).run(on: &graph)
    #expect(problems.count == 1)
    #expect(problems.first?.message.contains("has no loss") == true)
  }

  /// Three steps of the differentiated graph's train step against three steps of reference gradients and the
  /// reference optimizer, for a stateful optimizer with regularization.
  @Test(arguments: [
    Optimizer.sgd(lr: 0.05, momentum: 0.9, dampening: 0, nesterov: true),
    Optimizer.adam(lr: 0.01, beta1: 0.9, beta2: 0.999, epsilon: 1e-8, amsgrad: false),
  ])
  func threeTrainSteps(_ optimizer: Optimizer) throws {
    var (forward, inputs) = try trainingSetup("lenet5.kiln", batch: 2)
    var g = forward.graph
    g.training?.optimizer = optimizer
    g.training?.regularization.weightDecay = 1e-3
    forward = try Interpreter(graph: g, parameters: forward.parameters)
    let graph = try differentiated(g)
    #expect(graph.nodes.contains { if case .optimizerStep(let s) = $0.op { return s.optimizer == optimizer } else { return false } })

    var expectedParameters = forward.parameters
    var expectedOptimizer = ReferenceOptimizer(optimizer, regularization: g.training!.regularization)
    var actualParameters = forward.parameters
    var actualOptimizer = expectedOptimizer
    let kinds = Dictionary(uniqueKeysWithValues: g.parameters().map { ($0.name, $0.kind) })
    for step in 0..<3 {
      let seed = UInt64(100 + step)
      let reference = try Interpreter(graph: g, parameters: expectedParameters).gradients(inputs, seed: seed)
      var trained = expectedParameters.filter { reference.parameterGradients[$0.key] != nil }
      try expectedOptimizer.step(&trained, gradients: reference.parameterGradients, kinds: kinds)
      expectedParameters.merge(trained) { _, new in new }
      expectedParameters.merge(reference.updatedParameters) { _, new in new }

      let result = try Interpreter(graph: graph, parameters: actualParameters)
        .trainStep(inputs, seed: seed, optimizer: &actualOptimizer)
      #expect(abs(result.loss - reference.loss) <= 1e-6 * max(1, abs(reference.loss)), "step \(step) loss")
      actualParameters = result.parameters
    }
    for (name, want) in expectedParameters.sorted(by: { $0.key < $1.key }) {
      guard let got = actualParameters[name] else {
        Issue.record("parameter '\(name)' is missing after the steps")
        continue
      }
      expectClose(got, want, rtol: 1e-5, atol: 1e-7, "\(optimizer.name) \(name)")
    }
    #expect(actualParameters != forward.parameters, "the steps changed the weights")
  }
}
