// Modules built with --train: three steps against the interpreter, threads, resume, and no training code without it.
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

@Suite(.serialized) struct TrainingModuleTests {
  static let cases: [TrainingCase] = ["mlp", "lenet5", "resnet_block", "train_kitchen"].flatMap { network in
    let batch = ["mlp": 8, "lenet5": 4, "resnet_block": 2, "train_kitchen": 3][network]!
    return [
      TrainingCase(network: network, optimizer: TrainingCase.sgdMomentum, batch: batch),
      TrainingCase(network: network, optimizer: TrainingCase.adam, batch: batch),
    ]
  }

  @Test(arguments: cases) func threeStepsMatchTheInterpreter(_ c: TrainingCase) throws {
    let g = try c.graph()
    let f = try trainingFixture(g, batch: c.batch)
    var reference = try ReferenceTrainer(g, weights: f.weights)
    for step in 0..<3 {
      let (inputs, labels) = trainingBatch(g, n: c.batch, seed: UInt64(40 + step))
      let loss = try f.model.trainStep(inputs: inputs.map(\.data), targets: .classes(labels), n: c.batch)
      let expected = try reference.step(g, inputs: inputs, labels: labels)
      #expect(
        abs(Double(loss) - expected) <= 1e-4 * max(1, abs(expected)), "\(c) step \(step + 1): \(loss) vs \(expected)")
    }
    #expect(try f.model.stepCount() == 3)
    let trained = try f.model.parameters()
    #expect(Set(trained.keys) == Set(reference.parameters.keys))
    for (name, want) in reference.parameters.sorted(by: { $0.key < $1.key }) {
      guard let got = trained[name] else { continue }
      expectAgrees(Tensor(shape: want.shape, data: got), want, "\(c) \(name) after 3 steps")
    }
    let initial = ParameterSource.tensors(f.weights)
    #expect(trained.contains { $0.value != initial[$0.key]?.data }, "the steps changed the weights")
  }

  @Test(arguments: ["lenet5", "resnet_block", "train_kitchen"]) func oneAndTwoThreadsAreBitIdentical(_ network: String)
    throws
  {
    let c = TrainingCase(network: network, optimizer: TrainingCase.adam, batch: 4)
    let g = try c.graph()
    let f = try trainingFixture(g, batch: c.batch)
    var runs: [(losses: [Float], parameters: [String: [Float]])] = []
    for threads in [1, 2] {
      let model = try f.freshModel()
      try model.setThreads(threads)
      var losses: [Float] = []
      for step in 0..<3 {
        let (inputs, labels) = trainingBatch(g, n: c.batch, seed: UInt64(60 + step))
        losses.append(try model.trainStep(inputs: inputs.map(\.data), targets: .classes(labels), n: c.batch))
      }
      runs.append((losses, try model.parameters()))
    }
    #expect(runs[0].losses == runs[1].losses)
    #expect(runs[0].parameters == runs[1].parameters, "\(network): 1 and 2 threads differ")
  }

  @Test func savingAfterTwoStepsAndResumingEqualsThreeUninterruptedSteps() throws {
    let c = TrainingCase(network: "train_kitchen", optimizer: TrainingCase.adam, batch: 3)
    let g = try c.graph()
    let f = try trainingFixture(g, batch: c.batch)
    let batches = (0..<3).map { trainingBatch(g, n: c.batch, seed: UInt64(80 + $0)) }
    func step(_ model: CompiledModel, _ k: Int) throws -> Float {
      try model.trainStep(inputs: batches[k].inputs.map(\.data), targets: .classes(batches[k].labels), n: c.batch)
    }
    let straight = try f.freshModel()
    try straight.setLearningRate(0.02)
    let losses = try (0..<3).map { try step(straight, $0) }

    let first = try f.freshModel()
    try first.setLearningRate(0.02)
    _ = try step(first, 0)
    _ = try step(first, 1)
    let dir = try PackagePaths.temporaryDirectory("kiln-checkpoint")
    let path = dir.appendingPathComponent("ckpt.safetensors").path
    try first.saveCheckpoint(path)
    #expect(!FileManager.default.fileExists(atPath: path + ".tmp"))

    let resumed = try f.freshModel()
    try resumed.loadCheckpoint(path)
    #expect(try resumed.stepCount() == 2 && resumed.learningRate() == 0.02)
    #expect(try step(resumed, 2) == losses[2])
    #expect(try resumed.parameters() == straight.parameters(), "resumed training differs from uninterrupted")

    // The file is PyTorch-readable safetensors: weights, optimizer slots and the step record.
    let contents = try SafeTensors.read(from: path)
    let names = Set(contents.tensors.map(\.name))
    #expect(
      names.isSuperset(of: [
        "c1.weight", "fc.weight", "fc.bias", "bn1.running_mean", "fc.weight.exp_avg", "fc.weight.exp_avg_sq",
      ]))
    #expect(contents.metadata["kiln.step"] == "2" && contents.metadata["kiln.seed"] == "7")
    #expect(contents.metadata["kiln.network"] == "train_kitchen")
  }

  @Test func badCheckpointsAndArgumentsAreClearErrors() throws {
    let g = try TrainingCase(network: "mlp", optimizer: TrainingCase.adam, batch: 2).graph()
    let f = try trainingFixture(g, batch: 2)
    let model = try f.freshModel()
    let (inputs, _) = trainingBatch(g, n: 2, seed: 1)
    let bad = #expect(throws: ModelError.self) {
      try model.trainStep(inputs: inputs.map(\.data), targets: .classes([3, 10]), n: 2)
    }
    #expect(bad?.message.contains("target 10 of sample 1") == true, "\(bad?.message ?? "")")
    #expect(throws: ModelError.self) { try model.setLearningRate(.nan) }
    #expect(throws: ModelError.self) { try model.setLearningRate(-1) }
    let missing = #expect(throws: ModelError.self) { try model.loadCheckpoint("/nonexistent/ckpt.safetensors") }
    #expect(missing?.code == RuntimeStatus.io.rawValue)
    // A plain weights file is not a checkpoint: it has no step record (nor optimizer state).
    let dir = try PackagePaths.temporaryDirectory("kiln-checkpoint")
    let weightsPath = dir.appendingPathComponent("weights.safetensors").path
    try SafeTensors.write(
      ParameterSource.tensors(f.weights).sorted { $0.key < $1.key }.map { NamedTensor($0.key, .f32($0.value)) },
      to: weightsPath)
    let notCheckpoint = #expect(throws: ModelError.self) { try model.loadCheckpoint(weightsPath) }
    #expect(
      notCheckpoint?.message.contains("not a Kiln training checkpoint") == true, "\(notCheckpoint?.message ?? "")")
    #expect(try model.stepCount() == 0, "a failed load changes nothing")
    // A learning rate of 0 leaves Adam's weights where they were.
    try model.setLearningRate(0)
    let before = try model.parameters()
    _ = try model.trainStep(inputs: inputs.map(\.data), targets: .classes([1, 2]), n: 2)
    #expect(try model.parameters() == before)
  }

  /// Batch norm over one value per channel (after a dense layer) has no batch variance at batch 1 (the running
  /// variance's unbiased estimate divides by m − 1 = 0): as PyTorch, the step refuses, naming the layer, and
  /// changes nothing; batch 2 trains.
  @Test func batchNormOverOneValuePerChannelRefusesBatchOne() throws {
    let g = try graph(
      source: """
        network bn_dense
        input x: f32[6]
        dense d (units: 4)
        batchnorm bn
        relu r
        dense out (units: 3)
        output logits
        train {
          loss: softmax_cross_entropy(logits, labels)
          optimizer: sgd(lr: 0.1)
        }
        """)
    let model = try trainingFixture(g, batch: 4).freshModel()
    let (inputs, labels) = trainingBatch(g, n: 2, seed: 3)
    let before = try model.parameters()
    let refused = #expect(throws: ModelError.self) {
      try model.trainStep(inputs: inputs.map { Array($0.data.prefix(6)) }, targets: .classes([labels[0]]), n: 1)
    }
    #expect(refused?.message.contains("batch norm 'bn' has one value per channel") == true, "\(refused?.message ?? "")")
    #expect(try model.parameters() == before)
    #expect(try model.stepCount() == 0)
    let loss = try model.trainStep(inputs: inputs.map(\.data), targets: .classes(labels), n: 2)
    #expect(loss.isFinite)
    #expect(try model.parameters()["bn.running_var"]?.allSatisfy(\.isFinite) == true)
  }

  @Test func aModuleBuiltWithoutTrainingHasNoTrainingCode() throws {
    let g = try exampleGraph("mlp.kiln")
    var options = CompileOptions()
    options.maxBatch = 2
    let weights = try ParameterSource.parameters(for: g, weightsPath: nil, seed: 3)
    let (model, module, _) = try Compilation.load(g, specName: "mlp.kiln", options: options) { weights }
    #expect(module.training == nil)
    for word in ["train", "opt_state", "kiln_step_info", "set_lr", "checkpoint", "kiln_rt_save_safetensors"] {
      #expect(!module.header.contains(word) && !module.source.contains(word), "inference module mentions '\(word)'")
    }
    #expect(throws: (any Error).self) { try model.library.symbol("mlp_train_step", as: UnsafeRawPointer.self) }
    #expect(throws: ModelError.self) { try model.setLearningRate(0.1) }

    options.training = true
    let trained = try Compilation.generate(g, specName: "mlp.kiln", options: options) { weights }
    #expect(
      trained.header.contains(
        "int mlp_train_step(mlp_ctx *ctx, const float *input, const int64_t *targets, int n, float *loss);"))
  }

  /// The header's TRAIN_ARENA_BYTES is the plan `kiln plan --train` reports, and that plan is valid.
  @Test(arguments: [("mlp", 32, 330_944), ("lenet5", 8, 1_080_064), ("resnet_block", 4, 3_894_080)])
  func trainArenaMacroIsThePlannedArena(_ network: String, _ batch: Int, _ arena: Int) throws {
    let g = try exampleGraph("\(network).kiln")
    var options = CompileOptions()
    options.maxBatch = batch
    options.training = true
    let planned = try Compilation.plannedTrainingProgram(g, options: options)
    try PlanValidator.validate(planned)
    let report = PlanReport(program: planned, plan: MemoryPlanner.plan(planned))
    let module = try Compilation.generate(g, specName: "\(network).kiln", options: options, writeWeightsFile: false) {
      try ParameterSource.parameters(for: g, weightsPath: nil, seed: 1)
    }
    #expect(module.training?.arenaBytes == report.arenaBytes)
    #expect(module.header.contains("#define \(network.uppercased())_TRAIN_ARENA_BYTES \(report.arenaBytes) "))
    #expect(report.arenaBytes == arena, "kiln plan examples/\(network).kiln --train --batch \(batch)")
    // opt_state holds each parameter's slots in OptimizerStepKernel.stateSlots order, 64-byte aligned.
    let training = try #require(module.training)
    var updates = 0
    for step in training.program.steps {
      guard case .optimizerStep(let s) = step.op else { continue }
      updates += 1
      let slots = training.optimizerState.filter { $0.parameter == s.parameter }
      #expect(slots.map(\.name) == OptimizerStepKernel.stateSlots(of: s).map { "\(s.parameter).\($0.slot)" })
      #expect(slots.map(\.floats) == OptimizerStepKernel.stateSlots(of: s).map(\.floats))
    }
    #expect(updates > 0 && training.optimizerState.allSatisfy { $0.offset % 16 == 0 })
  }
}
