// `kiln profile` as a user runs it: the table, the trace and chart files, JSON, and bad arguments refused.
import Foundation
import KilnHarness
import KilnTestSupport
import Testing

@Suite struct ProfileCommandTests {
  @Test func printsTheTableAndWritesTheTraceAndTheChart() throws {
    let dir = try PackagePaths.temporaryDirectory("kiln-profile-cli")
    defer { try? FileManager.default.removeItem(at: dir) }
    let trace = dir.appendingPathComponent("trace.json").path
    let svg = dir.appendingPathComponent("chart.svg").path
    let r = try kiln(
      "profile", example("lenet5.kiln"), "--batch", "2", "--threads", "1", "--reps", "3", "--warmup", "1",
      "--trace", trace, "--svg", svg)
    #expect(r.status == 0, "\(r.stderr)")
    #expect(r.stdout.contains("profile of lenet5: batch 2, 1 thread"))
    #expect(r.stdout.contains("total of the steps"))
    #expect(r.stdout.contains("c1  "))
    #expect(r.stdout.contains("conv2d_flat"))
    #expect(FileManager.default.fileExists(atPath: trace) && FileManager.default.fileExists(atPath: svg))
  }

  @Test func printsJSONWithMinAndMax() throws {
    let r = try kiln("profile", example("mlp.kiln"), "--batch", "1", "--threads", "1", "--reps", "3", "--json")
    #expect(r.status == 0, "\(r.stderr)")
    let json = try #require(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any])
    let fused = try #require(json["fused"] as? [String: Any])
    let wall = try #require(fused["wall"] as? [String: Any])
    #expect(wall["min"] is Double && wall["max"] is Double && wall["median"] is Double)
  }

  @Test(arguments: [
    (["/nonexistent/net.kiln"], "/nonexistent/net.kiln"),
    (["BATCH", "--batch", "0"], "--batch must be at least 1"),
    (["BATCH", "--threads", "0"], "--threads must be at least 1"),
    (["BATCH", "--reps", "0"], "--reps must be at least 1"),
    (["BATCH", "--no-fuse"], "always builds both"),
  ])
  func refusesBadArguments(_ arguments: [String], _ message: String) throws {
    let args = ["profile"] + arguments.map { $0 == "BATCH" ? example("mlp.kiln") : $0 }
    let tool = PackagePaths.binaries.appendingPathComponent("kiln")
    let r = try runProcess(tool.path, arguments: args)
    #expect(r.status != 0)
    #expect(r.stderr.contains(message), "\(r.stderr)")
  }
}
