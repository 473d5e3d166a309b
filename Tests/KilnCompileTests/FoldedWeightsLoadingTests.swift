// A module with folded batch norms loads PyTorch's unfolded state_dict and prepares the folded weights in C.
import Foundation
import KilnData
import KilnDriver
import KilnIR
import KilnReference
import KilnTestSupport
import Testing

@Suite struct FoldedWeightsLoadingTests {
  @Test func resnet20LoadsAnUnfoldedStateDictAndAgreesWithTheInterpreter() throws {
    let g = try exampleGraph("resnet20.kiln")
    var o = CompileOptions()
    o.maxBatch = 2
    let f = try compileFixture(g, options: o)
    #expect(f.module.header.contains("RESNET20_SOURCE_BYTES"), "resnet20 should fold its batch norms")
    #expect(f.module.source.contains("static void resnet20_prepare(const float *source, float *params)"))
    // Batch-norm statistics far from the initial identity, so a wrong fold cannot pass unnoticed.
    var w = try ParameterSource.parameters(for: g, weightsPath: nil, seed: 21)
    var random = SeededRandom(seed: 22)
    for name in w.names {
      guard let t = w.float(name), let layer = name.split(separator: ".").first,
        let node = g.node(named: String(layer)), case .batchNorm = node.op
      else { continue }
      let (low, high): (Float, Float) =
        name.hasSuffix(".running_var") ? (0.25, 2) : name.hasSuffix(".weight") ? (0.5, 1.5) : (-0.5, 0.5)
      w[name] = .f32(random.tensor(t.shape, low: low, high: high))
    }
    let dir = try PackagePaths.temporaryDirectory()
    let path = dir.appendingPathComponent("pytorch_state_dict.safetensors").path
    try w.save(to: path)
    try f.model.loadWeights(safetensors: path)
    let reference = try Interpreter(graph: g, parameters: ParameterSource.tensors(w))
    let fixture = CompiledFixture(graph: g, model: f.model, module: f.module, interpreter: reference, weights: w)
    for (out, ref) in try runBoth(fixture, randomInputs(g, n: 2, seed: 4)) { expectAgrees(out, ref, "resnet20 unfolded state_dict") }
  }
}
