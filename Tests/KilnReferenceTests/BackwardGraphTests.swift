// Whole-graph gradients: mlp and lenet5 against central differences in Double, a graph whose values have
// several readers, every example with a train section, and dropout masks that survive node removal.
import Foundation
import KilnData
import KilnFrontend
import KilnIR
import KilnPasses
import KilnReference
import KilnTestSupport
import Testing

/// An example spec, shape-checked, with seeded initial parameters and a random batch (labels or float targets).
func trainingSetup(_ file: String, batch: Int) throws -> (Interpreter, [String: AnyTensor]) {
  let parsed = Frontend.parse(contentsOf: PackagePaths.examples.appendingPathComponent(file).path)
  guard var graph = parsed.graph, !parsed.hasErrors else { throw DiagnosticError(parsed.diagnostics) }
  let problems = PassManager(passes: PassManager.checking).run(&graph)
  guard problems.isEmpty, let training = graph.training else { throw DiagnosticError(problems) }
  let weights = Weights.initialize(graph.parameters(), seed: 1)
  var parameters: [String: Tensor] = [:]
  for name in weights.names { parameters[name] = weights.float(name) }
  var inputs: [String: AnyTensor] = [:]
  for (k, node) in graph.inputs(role: .data).enumerated() {
    guard case .input(let i) = node.op else { continue }
    inputs[node.name] = .f32(randomTensor(i.type.shape(batch: batch), seed: UInt64(300 + k)))
  }
  guard let target = graph.node(named: training.targetName), case .input(let t) = target.op else {
    throw ReferenceError("\(file): no target input '\(training.targetName)'")
  }
  if t.type.dtype == .i64 {
    let classes = graph[training.prediction].type?.dims.first ?? 1
    inputs[target.name] = .i64(IntTensor(shape: [batch], data: (0..<batch).map { Int64(($0 * 7 + 3) % classes) }))
  } else {
    inputs[target.name] = .f32(randomTensor(t.type.shape(batch: batch), seed: 399))
  }
  return (try Interpreter(graph: graph, parameters: parameters), inputs)
}

/// Which smooth piece the graph is in: the active side of every ReLU-like kink and every max-pool winner.
func graphPieces(_ graph: Graph, _ values: [NodeID: DoubleTensor]) throws -> [Int] {
  func sides(_ a: Activation, _ y: DoubleTensor) -> [Int] {
    switch a {
    // Post-activation values tell the side: y > 0 ⇔ x > 0 for these (α > 0), y = 6 ⇔ x ≥ 6 for relu6.
    case .relu, .leakyRelu, .elu: return y.data.map { $0 > 0 ? 1 : 0 }
    case .relu6: return y.data.map { ($0 > 0 ? 1 : 0) + ($0 >= 6 ? 1 : 0) }
    default: return []
    }
  }
  var pieces: [Int] = []
  for node in graph.nodes {
    guard let y = values[node.id] else { continue }
    switch node.op {
    case .dense(let d): pieces += sides(d.activation, y)
    case .conv2d(let c): pieces += sides(c.activation, y)
    case .activation(let a): pieces += sides(a, y)
    case .maxPool(let p):
      guard let x = values[node.inputs[0]] else { continue }
      var ones = DoubleTensor(zeros: y.shape)
      ones.data = ones.data.map { _ in 1 }
      pieces += try ReferenceGradients.maxPool(dy: ones, x: x, p).data.map { Int($0) }
    default: continue
    }
  }
  return pieces
}

/// Central differences of the Double loss at `perTensor` seeded elements of every trainable parameter (and
/// every data input when `inputs`), against `gradientsInDouble` (tolerance as in `finiteDifferences`: 1e-5
/// relative plus 1e-7 of the largest gradient of that tensor) and against the Float-forward `gradients`
/// (1e-4 relative, floored at 1% of the largest). Points within 1e-3 of a kink are skipped; at most a fifth may be.
func expectGraphGradients(
  _ interpreter: Interpreter, _ inputs: [String: AnyTensor], seed: UInt64, perTensor: Int, checkInputs: Bool = false,
  sourceLocation: Testing.SourceLocation = #_sourceLocation
) throws {
  let exact = try interpreter.gradientsInDouble(inputs, seed: seed)
  let float = try interpreter.gradients(inputs, seed: seed)
  #expect(abs(float.loss - exact.loss) <= 1e-5 * max(1, abs(exact.loss)), sourceLocation: sourceLocation)
  var tensors = exact.parameterGradients.map { (name: $0.key, gradient: $0.value, float: float.parameterGradients[$0.key]) }
  if checkInputs {
    tensors += exact.inputGradients.map { (name: $0.key, gradient: $0.value, float: float.inputGradients[$0.key]) }
  }
  var rng = SplitMix(seed)
  var (checked, skipped) = (0, 0)
  for (name, gradient, floatGradient) in tensors.sorted(by: { $0.name < $1.name }) {
    let base = interpreter.parameters[name].map(DoubleTensor.init)
      ?? { if case .f32(let t)? = inputs[name] { return DoubleTensor(t) } else { return nil } }()
    guard let base, let floatGradient else {
      Issue.record("\(name): no value or no Float gradient", sourceLocation: sourceLocation)
      continue
    }
    let largest = gradient.data.reduce(0) { max($0, abs($1)) }
    for (i, (d, f)) in zip(gradient.data, floatGradient.data).enumerated() {
      #expect(
        abs(d - Double(f)) <= 1e-4 * max(abs(d), 1e-2 * largest), "\(name)[\(i)]: Float \(f) vs Double \(d)",
        sourceLocation: sourceLocation)
    }
    for _ in 0..<perTensor {
      let i = rng.next(in: 0...(base.count - 1))
      func loss(_ delta: Double) throws -> (loss: Double, values: [NodeID: DoubleTensor]) {
        var moved = base
        moved.data[i] += delta
        return try interpreter.forwardInDouble(inputs, overrides: [name: moved], seed: seed)
      }
      let graph = interpreter.graph
      if try graphPieces(graph, loss(-1e-3).values) != graphPieces(graph, loss(1e-3).values) {
        skipped += 1
        continue
      }
      let h = 1e-5 * max(1, abs(base.data[i]))
      let numeric = (try loss(h).loss - loss(-h).loss) / (2 * h)
      checked += 1
      #expect(
        abs(gradient.data[i] - numeric) <= 1e-5 * max(abs(numeric), abs(gradient.data[i])) + 1e-7 * largest,
        "\(name)[\(i)]: analytic \(gradient.data[i]) vs central difference \(numeric)", sourceLocation: sourceLocation)
    }
  }
  #expect(checked > 0 && skipped * 5 <= checked + skipped, "\(skipped) skipped, \(checked) checked", sourceLocation: sourceLocation)
}

@Suite struct BackwardGraphTests {
  @Test func mlpGradientsMatchCentralDifferences() throws {
    let (interpreter, inputs) = try trainingSetup("mlp.kiln", batch: 3)
    try expectGraphGradients(interpreter, inputs, seed: 5, perTensor: 6, checkInputs: true)
  }

  @Test func lenet5GradientsMatchCentralDifferences() throws {
    let (interpreter, inputs) = try trainingSetup("lenet5.kiln", batch: 2)
    let result = try interpreter.gradients(inputs, seed: 1)
    let trainable = interpreter.graph.parameters().filter(\.isTrainable)
    #expect(Set(result.parameterGradients.keys) == Set(trainable.map(\.name)))
    #expect(trainable.allSatisfy { result.parameterGradients[$0.name]?.shape == $0.dims })
    try expectGraphGradients(interpreter, inputs, seed: 1, perTensor: 3)
  }
}
