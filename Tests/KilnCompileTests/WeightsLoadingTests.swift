// Weights at run time: safetensors through the generated C reader, and Kiln weights files with their checks.
import Foundation
import KilnCodegenC
import KilnData
import KilnDriver
import KilnHarness
import KilnIR
import KilnReference
import KilnTestSupport
import Testing

@Suite(.serialized) struct WeightsLoadingTests {
  /// LeNet-5 with its weights forced into a weights file (threshold 0), so both placements are exercised.
  static let external = Result { () throws -> (CompiledFixture, URL) in
    var o = CompileOptions()
    o.maxBatch = 2
    o.embedThreshold = 0
    let g = try exampleGraph("lenet5.kiln")
    let weights = try ParameterSource.parameters(for: g, weightsPath: nil, seed: 3)
    let module = try Compilation.generate(g, specName: "lenet5.kiln", options: o) { weights }
    let dir = try PackagePaths.temporaryDirectory("kiln-external")
    try Compilation.write(module, to: dir)
    let build = try Compilation.build(module, in: dir, options: o)
    let model = try CompiledModel(library: build.url, interface: Compilation.interface(of: module))
    let f = CompiledFixture(
      graph: g, model: model,
      module: GeneratedModuleSummary(name: module.name, header: module.header, source: module.source, embedded: false, cacheHit: build.cacheHit),
      interpreter: try Interpreter(graph: g, parameters: ParameterSource.tensors(weights)), weights: weights)
    return (f, dir.appendingPathComponent("lenet5.weights"))
  }

  @Test func externalWeightsMustBeLoadedThenAgree() throws {
    let (f, file) = try Self.external.get()
    #expect(f.module.header.contains("#define LENET5_EMBEDDED_WEIGHTS 0"))
    let x = randomInputs(f.graph, n: 2, seed: 4)
    let unloaded = #expect(throws: ModelError.self) { try f.model.infer(x.map(\.data), n: 2) }
    #expect(unloaded?.code == RuntimeStatus.noWeights.rawValue)
    try f.model.loadWeightsFile(file.path)
    for (out, ref) in try runBoth(f, x) { expectAgrees(out, ref, "external lenet5") }
  }

  @Test func corruptOrForeignWeightsFilesAreRefused() throws {
    let (f, file) = try Self.external.get()
    let good = try Data(contentsOf: file)
    let dir = try PackagePaths.temporaryDirectory()
    func refused(_ bytes: Data, _ status: RuntimeStatus, _ text: String) throws {
      // (String.contains("") is false, so every case names a word its message must hold.)
      let path = dir.appendingPathComponent("w-\(status).weights")
      try bytes.write(to: path)
      do {
        try f.model.loadWeightsFile(path.path)
        Issue.record("\(status): accepted")
      } catch let e as ModelError {
        #expect(e.code == status.rawValue, "\(e)")
        #expect(e.message.contains(text), "\(e)")
      }
    }
    try refused(good.dropLast(4), .size, "wrong size")
    var flipped = good
    flipped[flipped.count - 1] ^= 0x40
    try refused(flipped, .checksum, "checksum")
    // The weights file of another network.
    var o = CompileOptions()
    o.maxBatch = 1
    let mlp = try exampleGraph("mlp_784_512_256_10.kiln")
    let other = try Compilation.generate(mlp, specName: "mlp.kiln", options: o) {
      try ParameterSource.parameters(for: mlp, weightsPath: nil, seed: 1)
    }
    try refused(Data(try #require(other.weightsFile)), .wrongNetwork, "mlp_784_512_256_10")
  }

  @Test func safetensorsLoadThroughTheGeneratedReader() throws {
    let g = try exampleGraph("resnet_block.kiln")
    var o = CompileOptions()
    o.maxBatch = 2
    let f = try compileFixture(g, options: o)
    // New weights, saved as a PyTorch state_dict would be (with num_batches_tracked), loaded by the C.
    var w = try ParameterSource.parameters(for: g, weightsPath: nil, seed: 99)
    for name in w.names where name.hasSuffix(".running_var") {
      let layer = name.dropLast(".running_var".count)
      w["\(layer).num_batches_tracked"] = .i64(IntTensor(shape: [], data: [7]))
    }
    let dir = try PackagePaths.temporaryDirectory()
    let path = dir.appendingPathComponent("w.safetensors").path
    try w.save(to: path)
    try f.model.loadWeights(safetensors: path)
    let reference = try Interpreter(graph: g, parameters: ParameterSource.tensors(w))
    let fixture = CompiledFixture(graph: g, model: f.model, module: f.module, interpreter: reference, weights: w)
    for (out, ref) in try runBoth(fixture, randomInputs(g, n: 2, seed: 3)) { expectAgrees(out, ref, "loaded resnet_block") }

    // A mis-shaped tensor is refused, named, and the weights in use stay.
    w["fc.weight"] = .f32(Tensor(zeros: [10, 31]))
    try w.save(to: path)
    do {
      try f.model.loadWeights(safetensors: path)
      Issue.record("accepted a mis-shaped tensor")
    } catch let e as ModelError {
      #expect(e.code == RuntimeStatus.shapeMismatch.rawValue)
      #expect(e.message.contains("fc.weight"), "\(e)")
    }
    for (out, ref) in try runBoth(fixture, randomInputs(g, n: 1, seed: 3)) { expectAgrees(out, ref, "weights kept") }
  }

  /// A module whose weights live in a file, given the user's safetensors: no initialized weights file is
  /// written or loaded (the closure is never asked), and the results are those of the user's weights.
  @Test func externalModuleLoadsTheUsersSafetensorsWithoutInitializedWeights() throws {
    let g = try exampleGraph("mlp_784_512_256_10.kiln")
    var o = CompileOptions()
    o.maxBatch = 2
    let user = try ParameterSource.parameters(for: g, weightsPath: nil, seed: 5)
    let path = try PackagePaths.temporaryDirectory().appendingPathComponent("user.safetensors").path
    try user.save(to: path)
    let (model, module, _) = try Compilation.load(g, specName: "mlp.kiln", options: o, safetensors: path) {
      Issue.record("initialized weights were generated although the user's are loaded")
      return user
    }
    #expect(module.placement == .external)
    #expect(module.weightsFile == nil)
    let fixture = CompiledFixture(
      graph: g, model: model,
      module: GeneratedModuleSummary(name: module.name, header: module.header, source: module.source, embedded: false, cacheHit: false),
      interpreter: try Interpreter(graph: g, parameters: ParameterSource.tensors(user)), weights: user)
    for (out, ref) in try runBoth(fixture, randomInputs(g, n: 2, seed: 2)) { expectAgrees(out, ref, "user weights") }
  }
}
