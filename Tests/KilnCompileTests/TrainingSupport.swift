// Shared fixtures of the training-module tests: modules built with --train, and the interpreter's train steps.
import Foundation
import KilnCodegenC
import KilnData
import KilnDriver
import KilnHarness
import KilnIR
import KilnPasses
import KilnReference
import KilnTestSupport
import Testing

/// A small network with every training-mode forward kernel: batch norm, dropout, pooling, a residual add.
let trainingKitchenSpec = """
  network train_kitchen
  input image: f32[2, 8, 8]
  conv c1 (filters: 4, kernel: 3, padding: 1, bias: false)
  batchnorm bn1
  relu r1
  conv c2 (filters: 4, kernel: 3, padding: 1, activation: tanh) <- r1
  add res <- c2, r1
  maxpool p (kernel: 2) <- res
  dropout d (rate: 0.25)
  flatten f
  dense fc (units: 5)
  output logits
  train {
    loss: softmax_cross_entropy(logits, labels)
    optimizer: adam(lr: 0.01)
    seed: 7
  }
  """

/// One network to train, with its optimizer.
struct TrainingCase: Sendable, CustomTestStringConvertible {
  var network: String
  var optimizer: Optimizer
  var batch: Int
  var testDescription: String { "\(network) \(optimizer.name)\(optimizer.name == "sgd" ? " momentum" : "")" }

  static let sgdMomentum = Optimizer.sgd(lr: 0.05, momentum: 0.9, dampening: 0, nesterov: false)
  static let adam = Optimizer.adam(lr: 0.01, beta1: 0.9, beta2: 0.999, epsilon: 1e-8, amsgrad: false)

  /// The spec's graph with this case's optimizer.
  func graph() throws -> Graph {
    var g =
      network == "train_kitchen"
      ? try KilnCompileTests.graph(source: trainingKitchenSpec) : try exampleGraph("\(network).kiln")
    g.training?.optimizer = optimizer
    return g
  }
}

/// A module built with --train at `batch`, loaded into a fresh context (the C is built once per content).
struct TrainingFixture: @unchecked Sendable {
  var graph: Graph
  var model: CompiledModel
  var module: GeneratedModule
  var weights: Weights
  var library: URL

  /// Another fresh context of the same library (its own params, optimizer state and step counter), starting
  /// from the embedded weights.
  func freshModel() throws -> CompiledModel {
    try #require(module.placement == .embedded, "the training fixtures are small enough to embed their weights")
    return try CompiledModel(library: library, interface: Compilation.interface(of: module))
  }
}

func trainingFixture(_ g: Graph, batch: Int, blas: Bool = true) throws -> TrainingFixture {
  var options = CompileOptions()
  options.maxBatch = batch
  options.training = true
  options.blas = blas
  let weights = try ParameterSource.parameters(for: g, weightsPath: nil, seed: 3)
  let (model, module, result) = try Compilation.load(g, specName: "\(g.name).kiln", options: options) { weights }
  return TrainingFixture(graph: g, model: model, module: module, weights: weights, library: result.url)
}

/// Seeded data and targets of one step: inputs in [-1, 1), class labels in 0..<classes.
func trainingBatch(_ g: Graph, n: Int, seed: UInt64) -> (inputs: [Tensor], labels: [Int64]) {
  var random = SeededRandom(seed: seed)
  let inputs = g.inputs(role: .data).map { random.tensor([n] + ($0.type?.dims ?? [])) }
  let classes = g.training.map { g[$0.prediction].type?.elementCount ?? 1 } ?? 1
  let labels = (0..<n).map { _ in Int64(Int.random(in: 0..<classes, using: &random)) }
  return (inputs, labels)
}

/// The interpreter's train steps of `g` over the same weights, with the C module's step seeds and float rate.
struct ReferenceTrainer {
  var interpreter: Interpreter
  var parameters: [String: Tensor]
  var optimizer: ReferenceOptimizer
  let seed: UInt64
  var step: Int64 = 0

  init(_ g: Graph, weights: Weights) throws {
    var passes = PassOptions()
    passes.mode = .training
    let differentiated = try Compilation.optimize(g, options: passes)
    parameters = ParameterSource.tensors(weights)
    interpreter = try Interpreter(graph: differentiated, parameters: parameters)
    let training = try #require(g.training)
    optimizer = ReferenceOptimizer(training.optimizer, regularization: training.regularization)
    // NOTE: the module keeps the rate as a float (kiln_step_info.lr); so does this reference.
    optimizer.learningRate = Double(Float(training.optimizer.learningRate))
    seed = training.seed
  }

  /// One step with class labels; returns its loss.
  mutating func step(_ g: Graph, inputs: [Tensor], labels: [Int64]) throws -> Double {
    try step(g, inputs: inputs, target: .i64(IntTensor(shape: [labels.count], data: labels)))
  }

  /// One step with any target (class labels, or float values for the regression losses); returns its loss.
  mutating func step(_ g: Graph, inputs: [Tensor], target: AnyTensor) throws -> Double {
    var feed: [String: AnyTensor] = [:]
    for (node, x) in zip(g.inputs(role: .data), inputs) { feed[node.name] = .f32(x) }
    feed[g.training!.targetName] = target
    step += 1
    let result = try Interpreter(graph: interpreter.graph, parameters: parameters)
      .trainStep(feed, seed: CounterRandom.stepSeed(base: seed, step: step), optimizer: &optimizer)
    parameters = result.parameters
    return result.loss
  }
}
