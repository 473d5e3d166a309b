// Every example network, compiled to C and run, against the interpreter: with and without OpenBLAS,
// at a runtime batch below the compiled one and at batch 1.
import Foundation
import KilnDriver
import KilnIR
import KilnTestSupport
import Testing

@Suite(.serialized) struct EndToEndTests {
  struct Case: Sendable, CustomTestStringConvertible {
    var file: String
    var blas: Bool
    var testDescription: String { "\(file) \(blas ? "OpenBLAS" : "no-blas")" }
  }

  static let files = PackagePaths.exampleSpecs().map(\.lastPathComponent)
  static let cases = files.flatMap { [Case(file: $0, blas: true), Case(file: $0, blas: false)] }

  @Test(arguments: cases)
  func exampleAgreesWithTheInterpreter(_ c: Case) throws {
    var options = CompileOptions()
    options.maxBatch = 4
    options.blas = c.blas
    let graph = try exampleGraph(c.file)
    let f = try compileFixture(graph, options: options)
    // AlexNet's interpreter run is the slowest part of the suite: one sample is enough there.
    let batches = c.file == "alexnet.kiln" ? [1] : [3, 1]
    for n in batches {
      for (i, (out, ref)) in try runBoth(f, randomInputs(graph, n: n, seed: UInt64(n))).enumerated() {
        expectAgrees(out, ref, "\(c.file) output \(graph.outputs[i].name) n=\(n)")
      }
    }
  }
}
