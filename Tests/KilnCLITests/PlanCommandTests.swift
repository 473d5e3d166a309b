// `kiln plan` as a user runs it: the table, the JSON, and a bad batch refused.
import Foundation
import KilnTestSupport
import Testing

@Suite struct PlanCommandTests {
  @Test func printsOneRowPerBufferThenTheTotals() throws {
    let r = try kiln("plan", example("lenet5.kiln"), "--batch", "1")
    #expect(r.status == 0, "\(r.stderr)")
    #expect(r.stdout.contains("network lenet5, batch 1"))
    #expect(r.stdout.contains("lower bound (peak live): 23,552 B (23.0 KiB)"))
    #expect(r.stdout.contains("arena:                   23,552 B (23.0 KiB)"))
    #expect(r.stdout.contains("without sharing:         32,448 B (31.7 KiB)"))
  }

  @Test func printsJSONWithTheFigures() throws {
    let r = try kiln("plan", example("resnet_block.kiln"), "--json")
    #expect(r.status == 0, "\(r.stderr)")
    let json = try #require(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any])
    #expect(json["batch"] as? Int == 64)
    #expect(json["arenaBytes"] as? Int == 12_582_912)
    #expect(json["lowerBoundBytes"] as? Int == 12_582_912)
    #expect(json["noSharingBytes"] as? Int == 60_825_600)
    let rows = try #require(json["buffers"] as? [[String: Any]])
    #expect(rows.count == 20)
    #expect(rows[1]["inPlaceOf"] as? String == "t1")
  }

  @Test func refusesABatchBelowOne() throws {
    let r = try kiln("plan", example("mlp.kiln"), "--batch", "0")
    #expect(r.status != 0)
    #expect(r.stderr.contains("--batch must be at least 1"))
  }
}
