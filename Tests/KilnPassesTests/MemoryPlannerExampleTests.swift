// The memory plan of every example network: valid, within 5% of the lower bound, and its exact figures pinned.
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
  // NOTE: conv_32x32x3 and conv_128x128x1 are one conv each, written straight into the caller's output, so they
  // need no arena at all.
  static let cases: [PlanCase] = [
    PlanCase("alexnet", batch: 1, lowerBound: 1_441_536, arena: 1_441_536, noSharing: 3_575_936),
    PlanCase("alexnet", batch: 64, lowerBound: 92_258_304, arena: 92_258_304, noSharing: 228_859_904),
    PlanCase("conv_128x128x1", batch: 1, lowerBound: 0, arena: 0, noSharing: 0),
    PlanCase("conv_128x128x1", batch: 64, lowerBound: 0, arena: 0, noSharing: 0),
    PlanCase("conv_32x32x3", batch: 1, lowerBound: 0, arena: 0, noSharing: 0),
    PlanCase("conv_32x32x3", batch: 64, lowerBound: 0, arena: 0, noSharing: 0),
    PlanCase("conv_chain", batch: 1, lowerBound: 27_072, arena: 27_072, noSharing: 27_072),
    PlanCase("conv_chain", batch: 64, lowerBound: 1_730_560, arena: 1_730_560, noSharing: 1_730_560),
    PlanCase("inception_block", batch: 1, lowerBound: 458_752, arena: 458_752, noSharing: 573_696),
    PlanCase("inception_block", batch: 64, lowerBound: 29_360_128, arena: 29_360_128, noSharing: 36_714_496),
    PlanCase("lenet5", batch: 1, lowerBound: 23_552, arena: 23_552, noSharing: 32_448),
    PlanCase("lenet5", batch: 64, lowerBound: 1_505_280, arena: 1_505_280, noSharing: 2_069_504),
    PlanCase("mlp", batch: 1, lowerBound: 448, arena: 448, noSharing: 448),
    PlanCase("mlp", batch: 64, lowerBound: 25_600, arena: 25_600, noSharing: 25_600),
    PlanCase("mlp_3_5_4_5_2", batch: 1, lowerBound: 128, arena: 128, noSharing: 192),
    PlanCase("mlp_3_5_4_5_2", batch: 64, lowerBound: 2_304, arena: 2_304, noSharing: 3_584),
    PlanCase("mlp_784_512_256_10", batch: 1, lowerBound: 3_072, arena: 3_072, noSharing: 3_072),
    PlanCase("mlp_784_512_256_10", batch: 64, lowerBound: 196_608, arena: 196_608, noSharing: 196_608),
    PlanCase("mnist_cnn", batch: 1, lowerBound: 84_608, arena: 84_608, noSharing: 114_432),
    PlanCase("mnist_cnn", batch: 64, lowerBound: 5_408_000, arena: 5_408_000, noSharing: 7_304_960),
    PlanCase("resnet_block", batch: 1, lowerBound: 196_608, arena: 196_608, noSharing: 950_400),
    PlanCase("resnet_block", batch: 64, lowerBound: 12_582_912, arena: 12_582_912, noSharing: 60_825_600),
    PlanCase("resnet20", batch: 1, lowerBound: 196_608, arena: 196_608, noSharing: 2_703_616),
    PlanCase("resnet20", batch: 64, lowerBound: 12_582_912, arena: 12_582_912, noSharing: 173_031_424),
    PlanCase("vgg_bn", batch: 1, lowerBound: 524_288, arena: 524_288, noSharing: 2_868_224),
    PlanCase("vgg_bn", batch: 64, lowerBound: 33_554_432, arena: 33_554_432, noSharing: 183_566_336),
  ]

  static func program(_ network: String, batch: Int) throws -> Program {
    let path = PackagePaths.examples.appendingPathComponent("\(network).kiln").path
    return try Lowering.lower(NetworkLoader.graph(path: path), maxBatch: batch)
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
    #expect(report.arenaBytes == p.activationFloats * 4)
    #expect(
      (report.lowerBoundBytes, report.arenaBytes, report.noSharingBytes) == (c.lowerBound, c.arena, c.noSharing),
      "kiln plan examples/\(c.network).kiln --batch \(c.batch)")
    // The issue's goal: within 5% of what no plan can beat.
    #expect(Double(report.arenaBytes) <= 1.05 * Double(report.lowerBoundBytes))
  }

  @Test func reportListsEveryBufferAndEncodesWithSortedKeys() throws {
    let p = try Self.program("resnet_block", batch: 1)
    let report = PlanReport(program: p, plan: MemoryPlanner.plan(p))
    let table = report.renderTable()
    #expect(table.contains("t2      stem_bn               2     3        0  65,536  over t1"))
    #expect(table.contains("lower bound (peak live): 196,608 B (192.0 KiB)"))
    #expect(table.contains("arena:                   196,608 B (192.0 KiB) (greedy-by-size), efficiency 100.0%"))
    #expect(table.contains("without sharing:         950,400 B (928.1 KiB)"))
    #expect(report.buffers.count == p.buffers.filter { $0.storage == .arena }.count)

    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys]
    let decoded = try JSONDecoder().decode(PlanReport.self, from: encoder.encode(report))
    #expect(decoded == report)
    let json = String(decoding: try encoder.encode(report), as: UTF8.self)
    #expect(json.hasPrefix(#"{"arenaBytes":196608,"batch":1,"buffers":[{"buffer":"t1","firstStep":1,"lastStep":2,"#))
  }
}
