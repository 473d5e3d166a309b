// kiln profile as a library: every unfused step once, grouped by the fused nodes' absorbed names, sane times and
// totals, matching outputs, a trace Perfetto can read, a well-formed chart, and clear errors for bad options.
import Foundation
import KilnData
import KilnDriver
import KilnIR
import KilnPasses
import KilnTestSupport
import Testing

#if canImport(FoundationXML)
  import FoundationXML
#endif

/// A profile of an example at batch 2, one thread, 3 timed runs after 1 warm-up.
struct ProfiledExample: Sendable {
  var report: ProfileReport
  var fusedGraph: Graph
  var unfusedGraph: Graph

  init(_ file: String) throws {
    let graph = try NetworkLoader.graph(path: PackagePaths.examples.appendingPathComponent(file).path)
    var options = ProfileOptions()
    options.batch = 2
    options.threads = 1
    options.reps = 3
    options.warmup = 1
    report = try Profiler.run(graph, specName: file, options: options)
    fusedGraph = try Compilation.optimize(graph, options: PassOptions())
    var unfused = PassOptions()
    unfused.fuse = false
    unfusedGraph = try Compilation.optimize(graph, options: unfused)
  }
}

@Suite(.serialized) struct ProfilerTests {
  static let lenet5 = Result { try ProfiledExample("lenet5.kiln") }
  static let resnetBlock = Result { try ProfiledExample("resnet_block.kiln") }

  static func example(_ file: String) throws -> ProfiledExample {
    try (file == "lenet5.kiln" ? lenet5 : resnetBlock).get()
  }

  @Test(arguments: ["lenet5.kiln", "resnet_block.kiln"])
  func everyStepAppearsInExactlyOneGroup(_ file: String) throws {
    let p = try Self.example(file)
    let r = p.report
    #expect(r.groups.flatMap(\.unfusedSteps).sorted() == Array(r.unfused.steps.indices))
    #expect(r.groups.flatMap(\.fusedSteps).sorted() == Array(r.fused.steps.indices))
    // One unfused step per kernel call of the unfused network: every node but inputs and views.
    let kernels = p.unfusedGraph.nodes.filter {
      switch $0.op {
      case .input, .flatten, .reshape, .dropout, .loss, .activation(.identity): return false
      default: return true
      }
    }
    #expect(r.unfused.steps.map(\.layer) == kernels.map(\.name))
  }

  @Test(arguments: ["lenet5.kiln", "resnet_block.kiln"])
  func groupingFollowsTheAbsorbedNames(_ file: String) throws {
    let p = try Self.example(file)
    let r = p.report
    for g in r.groups {
      let node = try #require(p.fusedGraph.node(named: g.name), "group \(g.name) names no fused node")
      let claimed = Set([node.name] + node.absorbed)
      #expect(g.fusedSteps.allSatisfy { r.fused.steps[$0].layer == node.name })
      for i in g.unfusedSteps {
        #expect(claimed.contains(r.unfused.steps[i].layer), "\(r.unfused.steps[i].layer) under \(g.name)")
      }
      // And every unfused layer the node claims is in its group.
      let members = Set(g.unfusedSteps.map { r.unfused.steps[$0].layer })
      for name in claimed where p.unfusedGraph.node(named: name) != nil {
        #expect(members.contains(name), "\(name) absorbed by \(g.name) but not grouped under it")
      }
    }
  }

  @Test func resnetBlockGroupsItsBatchNormsAddsAndRelusIntoTheConvs() throws {
    let r = try Self.example("resnet_block.kiln").report
    let stem = try #require(r.groups.first { $0.name == "stem" })
    #expect(stem.fusedSteps.count == 1)
    // --no-fuse also turns off fold-batchnorm: the unfused network runs its batch norm as a kernel.
    #expect(stem.unfusedSteps.map { r.unfused.steps[$0].layer } == ["stem", "stem_bn", "stem_relu"])
    // The residual add and the relu after it run in the epilogue of block 1's second conv.
    let conv2 = try #require(r.groups.first { $0.name == "b1_conv2" })
    #expect(conv2.unfusedSteps.map { r.unfused.steps[$0].layer } == ["b1_conv2", "b1_bn2", "b1_add", "b1_out"])
    #expect(r.fused.steps[stem.fusedSteps[0]].op.hasSuffix("+relu"))
    #expect(r.fused.steps[stem.fusedSteps[0]].template == "conv2d_tiled")
    #expect(r.fused.steps.count < r.unfused.steps.count)
  }

  @Test(arguments: ["lenet5.kiln", "resnet_block.kiln"])
  func timesArePositiveAndTotalsAreTheSumOfTheRows(_ file: String) throws {
    let r = try Self.example(file).report
    for v in [r.unfused, r.fused] {
      #expect(v.steps.allSatisfy { $0.time.min > 0 && $0.time.min <= $0.time.median && $0.time.median <= $0.time.max })
      #expect(v.wall.median >= v.kernelSeconds * 0.5, "the whole call holds the steps")
      #expect(v.arenaBytes > 0)
      #expect(v.representativeRun >= 0 && v.representativeRun < r.reps)
      let sum = v.steps.map(\.time.median).reduce(0, +)
      #expect(abs(v.kernelSeconds - sum) <= 1e-12)
      // The representative run's steps run one after another.
      for (a, b) in zip(v.steps, v.steps.dropFirst()) {
        #expect(a.representativeStart + a.representativeDuration <= b.representativeStart + 1e-9)
      }
    }
    #expect(r.speedup > 0 && r.speedup.isFinite)
    // The printed total is the printed rows' sum, within their rounding to 0.1 µs.
    let table = r.renderTable()
    let lines = table.split(separator: "\n").map(String.init)
    let total = try #require(lines.first { $0.hasPrefix("total of the steps") })
    let printedTotal = try #require(Double(total.split(separator: " ", omittingEmptySubsequences: true)[4]))
    var rowSum = 0.0
    var rows = 0
    for g in r.groups {
      for i in g.unfusedSteps {
        rowSum += (r.unfused.steps[i].time.median * 1e7).rounded() / 10
        rows += 1
      }
    }
    #expect(abs(printedTotal - rowSum) <= 0.05 * Double(rows + 1), "\(printedTotal) vs \(rowSum)")
  }

  @Test(arguments: ["lenet5.kiln", "resnet_block.kiln"])
  func bothVariantsComputeTheSameOutputs(_ file: String) throws {
    let r = try Self.example(file).report
    #expect(r.maxAbsoluteDifference.isFinite)
    #expect(r.maxRelativeDifference <= 1e-4)
  }

  @Test func theTableShowsEveryUnfusedLayerOnce() throws {
    let r = try Self.example("resnet_block.kiln").report
    let lines = r.renderTable().split(separator: "\n").map(String.init)
    for step in r.unfused.steps {
      let matching = lines.filter {
        let cells = $0.split(separator: " ", omittingEmptySubsequences: true)
        return cells.count > 2 && cells[0] == step.layer && cells[1] == step.op
      }
      #expect(matching.count == 1, "\(step.layer) \(step.op): \(matching)")
    }
    #expect(lines.contains { $0.hasPrefix("arena: unfused ") })
    #expect(lines.contains { $0.hasPrefix("outputs, fused against unfused: largest difference") })
  }

  @Test func theTraceIsChromeTraceEventJSON() throws {
    let r = try Self.example("resnet_block.kiln").report
    let dir = try PackagePaths.temporaryDirectory("kiln-profile")
    defer { try? FileManager.default.removeItem(at: dir) }
    let path = dir.appendingPathComponent("trace.json").path
    try r.writeTrace(to: path)
    let json = try #require(
      try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: path))) as? [String: Any])
    let events = try #require(json["traceEvents"] as? [[String: Any]])
    let slices = events.filter { $0["ph"] as? String == "X" }
    #expect(slices.count == r.unfused.steps.count + r.fused.steps.count)
    for (pid, variant) in [(1, r.unfused), (2, r.fused)] {
      let mine = slices.filter { $0["pid"] as? Int == pid }
      #expect(mine.compactMap { $0["name"] as? String } == variant.steps.map(\.kernel))
      #expect(mine.allSatisfy { ($0["ts"] as? Double ?? -1) >= 0 && ($0["dur"] as? Double ?? 0) > 0 })
      #expect(mine.allSatisfy { $0["tid"] as? Int == 1 && ($0["args"] as? [String: Any])?["group"] is String })
      let names = events.filter {
        $0["ph"] as? String == "M" && $0["pid"] as? Int == pid && $0["name"] as? String == "process_name"
      }
      #expect((names.first?["args"] as? [String: Any])?["name"] as? String == "resnet_block \(variant.name)")
    }
    // Deterministic: the same report gives the same bytes.
    #expect(try r.chromeTrace() == r.chromeTrace())
  }

  @Test func theChartIsWellFormedSVGWithTwoBarsPerGroup() throws {
    let r = try Self.example("resnet_block.kiln").report
    let svg = r.barChart().svg()
    let parsed = XMLCollector()
    let parser = XMLParser(data: Data(svg.utf8))
    parser.delegate = parsed
    #expect(parser.parse(), "\(parser.parserError.map { "\($0)" } ?? "")")
    let bars = parsed.elements.filter { $0.name == "rect" && $0.attributes["data-series"] != nil }
    let expected = r.groups.map { ($0.unfusedSteps.isEmpty ? 0 : 1) + ($0.fusedSteps.isEmpty ? 0 : 1) }.reduce(0, +)
    #expect(bars.count == expected)
    #expect(Set(bars.compactMap { $0.attributes["data-series"] }) == ["unfused", "fused"])
    #expect(svg == r.barChart().svg())
  }

  @Test func badOptionsAreClearErrors() throws {
    let graph = try NetworkLoader.graph(path: PackagePaths.examples.appendingPathComponent("mlp.kiln").path)
    func message(_ change: (inout ProfileOptions) -> Void) -> String? {
      var options = ProfileOptions()
      change(&options)
      do {
        _ = try Profiler.run(graph, specName: "mlp.kiln", options: options)
        return nil
      } catch {
        return "\(error)"
      }
    }
    #expect(message { $0.batch = 0 } == "--batch must be at least 1, got 0")
    #expect(message { $0.threads = 0 } == "--threads must be at least 1, got 0")
    #expect(message { $0.reps = 0 } == "--reps must be at least 1, got 0")
    #expect(message { $0.warmup = -1 } == "--warmup must be at least 0, got -1")
    #expect(message { $0.compile.passes.fuse = false }?.contains("always builds both") == true)
    #expect(message { $0.weightsPath = "/nonexistent/w.safetensors" }?.contains("/nonexistent/w.safetensors") == true)
    #expect(throws: DiagnosticError.self) { try NetworkLoader.graph(path: "/nonexistent/net.kiln") }
  }
}

/// Every element of an XML document, with its attributes.
final class XMLCollector: NSObject, XMLParserDelegate {
  struct Element {
    var name: String
    var attributes: [String: String]
  }
  var elements: [Element] = []

  func parser(
    _ parser: XMLParser, didStartElement name: String, namespaceURI: String?, qualifiedName: String?,
    attributes: [String: String]
  ) {
    elements.append(Element(name: name, attributes: attributes))
  }
}
