// `kiln plan` as a user runs it: the table with kernel scratch, the JSON, --no-blas, and a bad batch refused.
import Foundation
import KilnTestSupport
import Testing

@Suite struct PlanCommandTests {
  @Test func printsOneRowPerBufferThenTheTotals() throws {
    let r = try kiln("plan", example("lenet5.kiln"), "--batch", "1")
    #expect(r.status == 0, "\(r.stderr)")
    #expect(r.stdout.contains("network lenet5, batch 1"))
    #expect(r.stdout.contains("s1      scratch of k1_conv_c1"))
    #expect(r.stdout.contains("lower bound (peak live): 44,480 B (43.4 KiB)"))
    #expect(r.stdout.contains("arena:                   44,480 B (43.4 KiB)"))
    #expect(r.stdout.contains("without sharing:         66,496 B (64.9 KiB)"))
  }

  @Test func plansOwnLoopsWithoutScratch() throws {
    let r = try kiln("plan", example("lenet5.kiln"), "--batch", "1", "--no-blas")
    #expect(r.status == 0, "\(r.stderr)")
    #expect(!r.stdout.contains("scratch of"))
    #expect(r.stdout.contains("arena:                   23,552 B (23.0 KiB)"))
  }

  /// `--no-winograd` plans the direct 3×3 kernels: no transformed weights in scratch, so ResNet-20's batch-1
  /// arena is the smaller one (487,424 B with Winograd).
  @Test func plansWithoutWinograd() throws {
    let direct = try kiln("plan", example("resnet20.kiln"), "--batch", "1", "--no-winograd", "--json")
    let winograd = try kiln("plan", example("resnet20.kiln"), "--batch", "1", "--json")
    #expect(direct.status == 0 && winograd.status == 0, "\(direct.stderr)\(winograd.stderr)")
    func arena(_ stdout: String) throws -> Int? {
      let json = try JSONSerialization.jsonObject(with: Data(stdout.utf8)) as? [String: Any]
      return json?["arenaBytes"] as? Int
    }
    #expect(try arena(direct.stdout) == 279_808)
    #expect(try arena(winograd.stdout) == 487_424)
  }

  @Test func printsJSONWithTheFigures() throws {
    let r = try kiln("plan", example("resnet_block.kiln"), "--json")
    #expect(r.status == 0, "\(r.stderr)")
    let json = try #require(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any])
    #expect(json["batch"] as? Int == 64)
    #expect(json["arenaBytes"] as? Int == 13_470_720)
    #expect(json["lowerBoundBytes"] as? Int == 13_470_720)
    #expect(json["noSharingBytes"] as? Int == 64_755_776)
    let rows = try #require(json["buffers"] as? [[String: Any]])
    #expect(rows.count == 20)
    #expect(rows[1]["inPlaceOf"] as? String == "t1")
    let scratch = try #require(json["scratch"] as? [[String: Any]])
    #expect(scratch.map { $0["buffer"] as? String } == ["s1", "s4", "s7", "s11", "s14", "s16"])
  }

  @Test func plansOneTrainingStep() throws {
    let r = try kiln("plan", example("mlp.kiln"), "--train", "--batch", "32")
    #expect(r.status == 0, "\(r.stderr)")
    #expect(r.stdout.contains("network mlp, one training step at batch 32"))
    #expect(r.stdout.contains("hidden.relu              2     9        0   12,800  over t1"))
    #expect(r.stdout.contains("arena:                   330,944 B (323.2 KiB)"))
    let json = try kiln("plan", example("lenet5.kiln"), "--train", "--batch", "8", "--json")
    let figures = try #require(try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any])
    #expect(figures["mode"] as? String == "training")
    #expect(figures["arenaBytes"] as? Int == 1_080_064)
    #expect(figures["lowerBoundBytes"] as? Int == 1_080_064)
    #expect(figures["noSharingBytes"] as? Int == 2_733_440)
  }

  @Test func refusesToTrainANetworkWithoutATrainSection() throws {
    let r = try kiln("plan", example("conv_chain.kiln"), "--train")
    #expect(r.status != 0)
    #expect(r.stderr.contains("has no loss; expected a train section"))
  }

  @Test func refusesABatchBelowOne() throws {
    let r = try kiln("plan", example("mlp.kiln"), "--batch", "0")
    #expect(r.status != 0)
    #expect(r.stderr.contains("--batch must be at least 1"))
  }
}
