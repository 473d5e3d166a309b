// Every pass, on every example network and every fixture, leaves the interpreter's outputs bit for bit unchanged
// (fold-batchnorm, which rounds folded weights, within FoldBatchNormTests' tolerance).
import Foundation
import KilnData
import KilnDriver
import KilnIR
import KilnPasses
import KilnReference
import KilnTestSupport
import Testing

/// A network to check: an example spec or a fixture, loaded and shape-inferred.
struct EquivalenceCase: Sendable, CustomTestStringConvertible {
  let name: String
  /// Example specs are read from examples/, fixtures from their text.
  let load: @Sendable () throws -> Graph
  /// Samples per run (AlexNet runs at 1 to keep the suite quick).
  let batch: Int
  var testDescription: String { name }

  static func all() -> [EquivalenceCase] {
    let examples = PackagePaths.exampleSpecs().map { url in
      let name = url.lastPathComponent
      return EquivalenceCase(name: "examples/\(name)", load: { try NetworkLoader.graph(path: url.path) },
        batch: name == "alexnet.kiln" ? 1 : 3)
    }
    let fixtures = Fixture.all().map { f in
      EquivalenceCase(name: "Fixtures/\(f.path)", load: {
        var g = try f.parse()
        let d = ShapeInference().run(on: &g)
        guard d.isEmpty else { throw DiagnosticError(d) }
        return g
      }, batch: 3)
    }
    return examples + fixtures
  }
}

@Suite struct PipelineEquivalenceTests {
  /// Runs the interpreter at inference on seeded inputs; the loss and targets are left out.
  func outputs(of graph: Graph, parameters: [String: Tensor], batch: Int) throws -> [String: Tensor] {
    var random = SeededRandom(seed: 42)
    var inputs: [String: AnyTensor] = [:]
    for node in graph.inputs(role: .data) {
      inputs[node.name] = .f32(random.tensor([batch] + (node.type?.dims ?? [])))
    }
    return try Interpreter(graph: graph, parameters: parameters).run(inputs).outputs
  }

  @Test(arguments: EquivalenceCase.all())
  func passesDoNotChangeASingleBit(_ c: EquivalenceCase) throws {
    let before = try c.load()
    let weights = ParameterSource.tensors(Weights.initialize(before.parameters(), seed: 7))
    let expected = try outputs(of: before, parameters: weights, batch: c.batch)
    #expect(!expected.isEmpty)

    var options = PassOptions()
    options.verify = true
    var variants: [(String, Graph)] = []
    for pass in PassRegistry.passes where pass.modes.contains(.inference) {
      var g = before
      let d = try Pipeline(running: [pass.name], options: options).run(&g)
      #expect(d.isEmpty, "\(pass.name): \(d)")
      variants.append((pass.name, g))
    }
    var whole = before
    #expect(try Pipeline(options: options).run(&whole).isEmpty)
    variants.append(("the inference pipeline", whole))

    for (name, after) in variants {
      // Passes only remove layers: every parameter left has the name and shape it had.
      let remaining = Set(before.parameters().map { "\($0.name)\($0.dims)" })
      #expect(after.parameters().allSatisfy { remaining.contains("\($0.name)\($0.dims)") }, "\(name)")
      #expect(after.outputs.map(\.name) == before.outputs.map(\.name), "\(name)")
      // An unchanged graph gives unchanged outputs by construction (the interpreter is deterministic).
      guard after != before else { continue }
      let got = try outputs(of: after, parameters: after.kernelTensors(from: weights), batch: c.batch)
      // fold-batchnorm changes values by rounding (FoldBatchNormTests states its tolerance); the rest is exact.
      if !after.parameterFolds().isEmpty {
        for (output, want) in expected {
          let d = deviation(try #require(got[output]), want)
          #expect(d.rel <= FoldBatchNormTests.relativeTolerance, "\(c.name) after \(name): \(output) max rel \(d.rel)")
        }
        continue
      }
      for (output, want) in expected {
        guard let have = got[output] else {
          Issue.record("\(c.name) after \(name): output '\(output)' is missing")
          continue
        }
        #expect(have.shape == want.shape, "\(c.name) after \(name): output '\(output)'")
        if let i = have.data.indices.first(where: { i in i < want.data.count && have.data[i].bitPattern != want.data[i].bitPattern }) {
          let maxAbs = zip(have.data, want.data).map { abs($0 - $1) }.max() ?? 0
          Issue.record(
            "\(c.name) after \(name): output '\(output)' differs first at [\(i)]: \(have.data[i]) vs \(want.data[i]); max abs error \(maxAbs)")
        }
      }
    }
  }

  @Test func theCasesCoverTheExamplesAndFixturesAndChangeSomething() throws {
    let cases = EquivalenceCase.all()
    #expect(cases.count == PackagePaths.exampleSpecs().count + Fixture.all().count)
    // At least one example exercises each rewriting pass, so the bit checks above compare real rewrites.
    let alexnet = try #require(cases.first { $0.name == "examples/alexnet.kiln" }).load()
    for name in ["eliminate-dead", "remove-identities"] {
      var g = alexnet
      _ = try Pipeline(running: [name], options: PassOptions()).run(&g)
      #expect(g != alexnet, "\(name) changes nothing in AlexNet")
    }
  }
}
