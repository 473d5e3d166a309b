// The memory plan of every example network with its kernels' scratch: valid, within 5% of the bound, figures pinned.
import Foundation
import KilnDriver
import KilnIR
import KilnPasses
import KilnTestSupport
import Testing

/// One example at one batch, with the bytes `kiln plan` reports for it.
struct PlanCase: Sendable, CustomTestStringConvertible {
  var network: String
  var batch: Int
  var lowerBound: Int
  var arena: Int
  var noSharing: Int
  init(_ network: String, batch: Int, lowerBound: Int, arena: Int, noSharing: Int) {
    self.network = network
    self.batch = batch
    self.lowerBound = lowerBound
    self.arena = arena
    self.noSharing = noSharing
  }
  var testDescription: String { "\(network) at batch \(batch)" }
}

@Suite struct MemoryPlannerExampleTests {
  // NOTE: the plans are those the emitter uses (OpenBLAS and flat kernels, 8 thread slots): each conv's im2col or
  // padded-plane scratch is live at its own step and shares the arena with activations. conv_32x32x3 and conv_128x128x1 are one conv
  // each, written straight into the caller's output, so their arena is that conv's scratch alone. Scratch does
  // not grow with the batch (it is per thread slot), so at batch 1 it dominates.
  static let cases: [PlanCase] = [
    PlanCase("alexnet", batch: 1, lowerBound: 6_173_184, arena: 6_173_184, noSharing: 20_470_976),
    PlanCase("alexnet", batch: 64, lowerBound: 92_258_304, arena: 92_258_304, noSharing: 259_136_768),
    PlanCase("conv_128x128x1", batch: 1, lowerBound: 2_304, arena: 2_304, noSharing: 2_304),
    PlanCase("conv_128x128x1", batch: 64, lowerBound: 2_304, arena: 2_304, noSharing: 2_304),
    PlanCase("conv_32x32x3", batch: 1, lowerBound: 18_560, arena: 18_560, noSharing: 18_560),
    PlanCase("conv_32x32x3", batch: 64, lowerBound: 127_424, arena: 127_424, noSharing: 127_424),
    PlanCase("conv_chain", batch: 1, lowerBound: 148_096, arena: 148_096, noSharing: 153_984),
    PlanCase("conv_chain", batch: 64, lowerBound: 2_698_560, arena: 2_698_560, noSharing: 2_704_448),
    PlanCase("inception_block", batch: 1, lowerBound: 503_040, arena: 503_040, noSharing: 757_568),
    PlanCase("inception_block", batch: 64, lowerBound: 29_360_128, arena: 29_360_128, noSharing: 37_959_552),
    PlanCase("lenet5", batch: 1, lowerBound: 44_480, arena: 44_480, noSharing: 66_496),
    PlanCase("lenet5", batch: 64, lowerBound: 1_505_280, arena: 1_505_280, noSharing: 2_341_248),
    PlanCase("mlp", batch: 1, lowerBound: 448, arena: 448, noSharing: 448),
    PlanCase("mlp", batch: 64, lowerBound: 25_600, arena: 25_600, noSharing: 25_600),
    PlanCase("mlp_3_5_4_5_2", batch: 1, lowerBound: 128, arena: 128, noSharing: 192),
    PlanCase("mlp_3_5_4_5_2", batch: 64, lowerBound: 2_304, arena: 2_304, noSharing: 3_584),
    PlanCase("mlp_784_512_256_10", batch: 1, lowerBound: 3_072, arena: 3_072, noSharing: 3_072),
    PlanCase("mlp_784_512_256_10", batch: 64, lowerBound: 196_608, arena: 196_608, noSharing: 196_608),
    PlanCase("mnist_cnn", batch: 1, lowerBound: 150_144, arena: 150_144, noSharing: 224_320),
    PlanCase("mnist_cnn", batch: 64, lowerBound: 5_408_000, arena: 5_408_000, noSharing: 8_177_152),
    PlanCase("resnet20", batch: 1, lowerBound: 487_424, arena: 487_424, noSharing: 6_771_584),
    PlanCase("resnet20", batch: 64, lowerBound: 13_470_720, arena: 13_470_720, noSharing: 192_574_528),
    PlanCase("resnet_block", batch: 1, lowerBound: 322_816, arena: 322_816, noSharing: 1_549_824),
    PlanCase("resnet_block", batch: 64, lowerBound: 13_470_720, arena: 13_470_720, noSharing: 64_755_776),
    PlanCase("vgg_bn", batch: 1, lowerBound: 4_955_136, arena: 4_955_136, noSharing: 13_564_224),
    PlanCase("vgg_bn", batch: 64, lowerBound: 38_298_624, arena: 38_298_624, noSharing: 212_164_736),
  ]

  static func program(_ network: String, batch: Int) throws -> Program {
    let path = PackagePaths.examples.appendingPathComponent("\(network).kiln").path
    var options = CompileOptions()
    options.maxBatch = batch
    return try Compilation.plannedProgram(NetworkLoader.graph(path: path), options: options)
  }

  @Test func everyExampleHasPinnedFigures() {
    let pinned = Set(Self.cases.map(\.network))
    let examples = Set(PackagePaths.exampleSpecs().map { $0.deletingPathExtension().lastPathComponent })
    #expect(pinned == examples, "add a PlanCase for each new example (kiln plan NET.kiln --batch N --json)")
  }

  @Test(arguments: cases) func examplePlan(_ c: PlanCase) throws {
    let p = try Self.program(c.network, batch: c.batch)
    try PlanValidator.validate(p)
    let report = PlanReport(program: p, plan: MemoryPlanner.plan(p))
    #expect(report.arenaBytes == p.arenaFloats * 4)
    #expect(
      (report.lowerBoundBytes, report.arenaBytes, report.noSharingBytes) == (c.lowerBound, c.arena, c.noSharing),
      "kiln plan examples/\(c.network).kiln --batch \(c.batch)")
    // The issue's goal: within 5% of what no plan can beat.
    #expect(Double(report.arenaBytes) <= 1.05 * Double(report.lowerBoundBytes))
    // The committed module (batch 64) allocates exactly this arena: nothing is added after the plan.
    if c.batch == 64 {
      let header = PackagePaths.root.appendingPathComponent("generated/\(c.network)/\(c.network).h")
      let text = try String(contentsOf: header, encoding: .utf8)
      #expect(
        text.contains("#define \(c.network.uppercased())_ARENA_BYTES \(c.arena) "),
        "regenerate: swift run kiln regenerate")
    }
  }

  @Test func scratchSharesTheArenaButNeverWithItsStepsBuffers() throws {
    let p = try Self.program("resnet_block", batch: 1)
    let plan = MemoryPlanner.plan(p)
    let lifetimes = Liveness.lifetimes(of: p)
    var sharing = 0
    for step in p.steps where step.scratchFloats > 0 {
      let s = try #require(plan.scratch(ofStep: step.index))
      #expect(step.scratchOffset == s.offset)
      for a in plan.allocations where a.offset < s.offset + s.floats && s.offset < a.offset + a.floats {
        // Bytes in common with a buffer are allowed only when that buffer is not in use at the step.
        #expect(!lifetimes[a.buffer]!.contains(step.index), "\(step.kernelName) scratch over \(a.buffer)")
        sharing += 1
      }
    }
    #expect(sharing > 0, "some scratch reuses activation space")
  }

  @Test func withoutBLASNoKernelNeedsScratch() throws {
    var options = CompileOptions()
    options.maxBatch = 1
    options.blas = false
    let path = PackagePaths.examples.appendingPathComponent("lenet5.kiln").path
    let p = try Compilation.plannedProgram(NetworkLoader.graph(path: path), options: options)
    #expect(p.steps.allSatisfy { $0.scratchFloats == 0 && $0.scratchOffset == nil })
    #expect(p.arenaFloats * 4 == 23_552)
  }

  @Test func reportListsEveryBufferAndEncodesWithSortedKeys() throws {
    let p = try Self.program("resnet_block", batch: 1)
    let report = PlanReport(program: p, plan: MemoryPlanner.plan(p))
    let table = report.renderTable()
    #expect(table.contains("t2      stem_bn                           2     3  126,208   65,536  over t1"))
    #expect(table.contains("s4      scratch of k4_conv_b1_conv1       4     4        0  126,208"))
    #expect(table.contains("lower bound (peak live): 322,816 B (315.3 KiB)"))
    #expect(table.contains("arena:                   322,816 B (315.3 KiB) (greedy-by-size), efficiency 100.0%"))
    #expect(table.contains("without sharing:         1,549,824 B (1.5 MiB)"))
    #expect(report.buffers.count == p.buffers.filter { $0.storage == .arena }.count)
    #expect(report.scratch.map(\.firstStep) == p.steps.filter { $0.scratchFloats > 0 }.map(\.index))

    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys]
    let decoded = try JSONDecoder().decode(PlanReport.self, from: encoder.encode(report))
    #expect(decoded == report)
    let json = String(decoding: try encoder.encode(report), as: UTF8.self)
    #expect(json.hasPrefix(#"{"arenaBytes":322816,"batch":1,"buffers":[{"buffer":"t1","firstStep":1,"lastStep":2,"#))
  }
}
