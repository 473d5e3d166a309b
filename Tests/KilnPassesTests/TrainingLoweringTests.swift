// Training lowering: forward, loss, gradient and update steps over typed buffers, planned and validated.
import Foundation
import KilnDriver
import KilnIR
import KilnPasses
import KilnTestSupport
import Testing

/// The training pipeline (shape inference … autodiff, optimizer-step), verified after every pass.
func trainingGraph(_ graph: Graph) throws -> Graph {
  var options = PassOptions()
  options.mode = .training
  options.verify = true
  var g = graph
  let problems = try Pipeline(options: options).run(&g)
  guard !problems.contains(where: { $0.severity == .error }) else { throw DiagnosticError(problems) }
  return g
}

/// An example lowered for training at `batch`, before kernel scratch is known.
func trainingProgram(_ network: String, batch: Int) throws -> Program {
  let path = PackagePaths.examples.appendingPathComponent("\(network).kiln").path
  return try Lowering.lowerTraining(trainingGraph(NetworkLoader.graph(path: path)), maxBatch: batch)
}

/// One example's training plan without kernel scratch: arena, lower bound and no-sharing size in bytes.
struct TrainingPlanCase: Sendable, CustomTestStringConvertible {
  var network: String
  var batch: Int
  var lowerBound: Int
  var arena: Int
  var noSharing: Int
  var testDescription: String { "\(network) at batch \(batch)" }
}

@Suite struct TrainingLoweringTests {
  // NOTE: without kernel scratch (the compile tests pin the plans with it). mlp's 784×100 weight gradient alone
  // is 313,600 bytes, live from its gradient step to its update.
  static let cases = [
    TrainingPlanCase(network: "mlp", batch: 32, lowerBound: 330_944, arena: 330_944, noSharing: 371_904),
    TrainingPlanCase(network: "lenet5", batch: 8, lowerBound: 697_920, arena: 697_920, noSharing: 1_181_568),
    TrainingPlanCase(network: "resnet_block", batch: 4, lowerBound: 2_494_144, arena: 2_494_272, noSharing: 7_945_728),
  ]

  @Test(arguments: cases) func examplePlanIsValidWithPinnedFigures(_ c: TrainingPlanCase) throws {
    let p = try trainingProgram(c.network, batch: c.batch)
    try PlanValidator.validate(p)
    let plan = MemoryPlanner.plan(p)
    #expect(plan.arenaFloats == p.arenaFloats)
    #expect(plan.lowerBoundFloats <= plan.arenaFloats && plan.arenaFloats < plan.noSharingFloats)
    #expect(
      (plan.lowerBoundFloats * 4, plan.arenaFloats * 4, plan.noSharingFloats * 4) == (
        c.lowerBound, c.arena, c.noSharing
      ),
      "\(c.network) at batch \(c.batch)")
  }

  @Test(arguments: ["mlp", "lenet5", "resnet_block"]) func stepsComeForwardLossBackwardUpdates(_ network: String) throws
  {
    let p = try trainingProgram(network, batch: 4)
    #expect(p.mode == .training && p.outputs.isEmpty)
    func phase(_ op: Op) -> Int {
      switch op {
      case .loss: return 1
      case .gradient: return 2
      case .optimizerStep: return 3
      default: return 0
      }
    }
    // The adds that sum gradient contributions belong to the backward; every other step keeps its phase order.
    let phases = p.steps.map { phase($0.op) }.filter { $0 != 0 }
    #expect(phases == phases.sorted(), "\(network): loss, then gradients, then updates")
    #expect(p.steps.filter { phase($0.op) == 1 }.count == 1)

    // The loss writes the caller's scalar; its target is the caller's labels, i64 and one per sample.
    let loss = try #require(p.steps.first { phase($0.op) == 1 })
    #expect(p[loss.output].storage == .loss && !p[loss.output].batched && p[loss.output].floatsPerSample == 1)
    #expect(p.targets.count == 1 && p.targets[0].type.dtype == .i64)
    #expect(p[p.targets[0].buffer].storage == .target(0) && p[p.targets[0].buffer].dtype == .i64)
    #expect(loss.inputs.last == p.targets[0].buffer)

    // One update per trainable parameter, reading its unbatched gradient of the parameter's size, writing nothing.
    let updates = p.steps.filter { phase($0.op) == 3 }
    let trainable = p.parameters.filter(\.spec.isTrainable)
    #expect(updates.count == trainable.count)
    for step in updates {
      guard case .optimizerStep(let s) = step.op else { continue }
      let gradient = p[step.inputs[0]]
      #expect(!gradient.batched && gradient.storage == .arena, "\(s.parameter)")
      #expect(gradient.floatsPerSample == p.parameter(s.parameter)?.spec.elementCount, "\(s.parameter)")
      #expect(p[step.output].storage == .empty)
    }
    // Kernel names are unique C identifiers.
    #expect(Set(p.steps.map(\.kernelName)).count == p.steps.count)
    #expect(p.steps.allSatisfy { $0.kernelName.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_") } })
  }

  @Test func forwardActivationsLiveUntilTheirLastGradientUse() throws {
    let p = try trainingProgram("mlp", batch: 8)
    let lifetimes = Liveness.lifetimes(of: p)
    // hidden's relu output is read by the relu's gradient (from y) and by out.weight's gradient (x0).
    let relu = try #require(p.buffers.first { $0.name == "hidden.relu" })
    let readers = p.steps.filter { $0.inputs.contains(relu.id) }.map(\.index)
    #expect(readers.count >= 3, "the forward dense, out.weight's gradient and the relu's gradient")
    #expect(lifetimes[relu.id]?.last == readers.max())
    #expect(
      p.steps.contains { step in
        guard case .gradient(let g) = step.op else { return false }
        return g.parameterName == "out.weight" && step.inputs.contains(relu.id)
      })
  }

  @Test func trainingBatchNormIsNeverInPlace() throws {
    let p = try trainingProgram("resnet_block", batch: 2)
    let batchNorms = p.steps.filter { if case .batchNorm = $0.op { return true } else { return false } }
    #expect(batchNorms.count == 6)
    #expect(batchNorms.allSatisfy { !$0.inPlace })
    // The same program with a batch norm marked in place over its input is refused by the validator.
    var broken = p
    let i = try #require(broken.steps.firstIndex { $0.index == batchNorms[0].index })
    broken.steps[i].inPlace = true
    #expect(PlanValidator.violations(in: broken).contains { $0.contains("not elementwise") })
  }

  /// A random graph of `MemoryPlannerRandomTests` with a classifier head, a loss and a train section.
  static func randomTrainingGraph(seed: UInt64) throws -> Graph {
    var g = MemoryPlannerRandomTests.randomGraph(seed: seed)
    let last = g.outputs[0].node
    let pooled = g.add("head_pool", .globalAvgPool, inputs: [last])
    let logits = g.add("head", .dense(Dense(units: 3)), inputs: [pooled])
    let labels = g.add("labels", .input(Input(type: TensorType(.i64, []), role: .target)))
    g.add("loss", .loss(.softmaxCrossEntropy), inputs: [logits, labels])
    g.outputs = [GraphOutput(name: "logits", node: logits)]
    let optimizer = Optimizer.adam(lr: 1e-3, beta1: 0.9, beta2: 0.999, epsilon: 1e-8, amsgrad: false)
    g.training = TrainingConfig(
      loss: .softmaxCrossEntropy, prediction: logits, targetName: "labels", optimizer: optimizer)
    return try trainingGraph(g)
  }

  @Test func randomTrainingPlansAreValid() throws {
    var inPlace = 0
    var caught = 0
    for seed in UInt64(0)..<400 {
      let g = try Self.randomTrainingGraph(seed: seed)
      var p = try Lowering.lowerTraining(g, maxBatch: Int(seed % 4) + 1)
      var rng = SeededRandom(seed: seed &+ 0x7A1)
      try p.planMemory(
        scratchFloats: p.steps.map { _ in Bool.random(using: &rng) ? Int.random(in: 1...200, using: &rng) : 0 })
      let found = PlanValidator.violations(in: p)
      try #require(found.isEmpty, "seed \(seed): \(found)")
      inPlace += p.steps.filter(\.inPlace).count
      // A parameter gradient moved onto a forward value live beside it must be caught.
      let lifetimes = Liveness.lifetimes(of: p)
      let gradients = p.buffers.filter { !$0.batched && $0.storage == .arena }.map(\.id)
      if let (g, a) = gradients.lazy.compactMap({ g in
        lifetimes.keys.sorted().first {
          $0 != g && lifetimes[$0]!.overlaps(lifetimes[g]!) && p.arenaOffsets[$0] != p.arenaOffsets[g]
        }
        .map { (g, $0) }
      }).first {
        var broken = p
        broken.arenaOffsets[g] = p.arenaOffsets[a]
        broken.arenaFloats = max(p.arenaFloats, (p.arenaOffsets[a] ?? 0) + p[g].floatsPerSample)
        if PlanValidator.violations(in: broken).isEmpty {
          Issue.record("seed \(seed): gradient \(g) moved onto \(a) was not caught")
        } else {
          caught += 1
        }
      }
    }
    #expect(inPlace > 100 && caught > 300, "in place \(inPlace), caught \(caught)")
  }
}
