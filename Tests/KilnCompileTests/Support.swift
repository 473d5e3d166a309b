// Shared fixtures of the compile tests: networks compiled once per process, inputs, and the comparison rule.
import Foundation
import KilnData
import KilnDriver
import KilnHarness
import KilnIR
import KilnReference
import KilnTestSupport
import Testing

/// A network compiled to C and loaded, with the interpreter over the same weights.
struct CompiledFixture: @unchecked Sendable {
  var graph: Graph
  var model: CompiledModel
  var module: GeneratedModuleSummary
  var interpreter: Interpreter
  var weights: Weights
}

/// The parts of a generated module the tests look at.
struct GeneratedModuleSummary: Sendable {
  var name: String
  var header: String
  var source: String
  var embedded: Bool
  var cacheHit: Bool
}

/// Compiles `graph` (with weights initialized from seed 3) and loads it.
func compileFixture(_ graph: Graph, options: CompileOptions) throws -> CompiledFixture {
  let weights = try ParameterSource.parameters(for: graph, weightsPath: nil, seed: 3)
  let (model, module, result) = try Compilation.load(graph, specName: "\(graph.name).kiln", options: options) { weights }
  let interpreter = try Interpreter(graph: graph, parameters: ParameterSource.tensors(weights))
  return CompiledFixture(
    graph: graph, model: model,
    module: GeneratedModuleSummary(
      name: module.name, header: module.header, source: module.source, embedded: module.placement == .embedded,
      cacheHit: result.cacheHit),
    interpreter: interpreter, weights: weights)
}

func exampleGraph(_ file: String) throws -> Graph {
  try NetworkLoader.graph(path: PackagePaths.examples.appendingPathComponent(file).path)
}

func graph(source: String, name: String = "fixture.kiln") throws -> Graph {
  let loaded = NetworkLoader.load(source: source, file: name)
  guard let g = loaded.graph, !loaded.hasErrors else { throw DiagnosticError(loaded.diagnostics) }
  return g
}

/// Seeded inputs for every data input of `graph` at batch `n`, in [-1, 1).
func randomInputs(_ graph: Graph, n: Int, seed: UInt64) -> [Tensor] {
  var random = SeededRandom(seed: seed)
  return graph.inputs(role: .data).map { random.tensor([n] + ($0.type?.dims ?? [])) }
}

/// Runs both engines on the same inputs; returns (C outputs, interpreter outputs) in output order.
func runBoth(_ f: CompiledFixture, _ inputs: [Tensor]) throws -> [(Tensor, Tensor)] {
  let n = inputs[0].shape[0]
  let c = try f.model.infer(inputs.map(\.data), n: n)
  var feed: [String: AnyTensor] = [:]
  for (node, x) in zip(f.graph.inputs(role: .data), inputs) { feed[node.name] = .f32(x) }
  let reference = try f.interpreter.run(feed).outputs
  return zip(f.graph.outputs, c).map { o, values in
    let dims = f.graph[o.node].type?.dims ?? []
    return (Tensor(shape: [n] + dims, data: values), reference[o.name] ?? Tensor(zeros: [0]))
  }
}

/// Generated C against the interpreter: |c − ref| ≤ rtol·|ref| + rtol·max|ref| elementwise, rtol 1e-4.
/// NOTE: the second term is needed because C accumulates dot products of thousands of terms in float
/// (in OpenBLAS's order) while the interpreter sums in Double: the rounding error is relative to the size of
/// the terms, not of a result that cancels to near zero (observed: ~1e-6 of the output's scale on LeNet-5).
func expectAgrees(_ c: Tensor, _ reference: Tensor, _ what: String, rtol: Double = 1e-4,
  sourceLocation: Testing.SourceLocation = #_sourceLocation) {
  let scale = reference.data.map { abs(Double($0)) }.filter(\.isFinite).max() ?? 0
  expectClose(c, reference, rtol: rtol, atol: rtol * max(scale, 1e-6), what, sourceLocation: sourceLocation)
}
