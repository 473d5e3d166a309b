// Every example network, compiled to C and run, against the interpreter: with and without OpenBLAS,
// at a runtime batch below the compiled one and at batch 1.
import Foundation
import KilnData
import KilnDriver
import KilnIR
import KilnReference
import KilnTestSupport
import Testing

@Suite struct EndToEndTests {
  static let files = PackagePaths.exampleSpecs().map(\.lastPathComponent)

  @Test(arguments: files)
  func exampleAgreesWithTheInterpreter(_ file: String) throws {
    let graph = try exampleGraph(file)
    // One set of weights and one interpreter run serve both builds (AlexNet's interpreter run is the
    // slowest step of the suite, so it gets one sample only).
    let weights = try ParameterSource.parameters(for: graph, weightsPath: nil, seed: 3)
    let interpreter = try Interpreter(graph: graph, parameters: ParameterSource.tensors(weights))
    let batches = file == "alexnet.kiln" ? [1] : [3, 1]
    let inputs = batches.map { randomInputs(graph, n: $0, seed: UInt64($0)) }
    let references = try inputs.map { x in
      try interpreter.run(Dictionary(uniqueKeysWithValues: zip(graph.inputs(role: .data).map(\.name), x.map { AnyTensor.f32($0) }))).outputs
    }
    for blas in [true, false] {
      var options = CompileOptions()
      options.maxBatch = 4
      options.blas = blas
      let (model, _, _) = try Compilation.load(graph, specName: file, options: options) { weights }
      for (x, reference) in zip(inputs, references) {
        let n = x[0].shape[0]
        let outputs = try model.infer(x.map(\.data), n: n)
        for (o, values) in zip(graph.outputs, outputs) {
          let out = Tensor(shape: [n] + (graph[o.node].type?.dims ?? []), data: values)
          expectAgrees(out, reference[o.name] ?? Tensor(zeros: [0]), "\(file) \(blas ? "OpenBLAS" : "no-blas") \(o.name) n=\(n)")
        }
      }
    }
  }
}
