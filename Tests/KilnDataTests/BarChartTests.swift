// The SVG bar chart: well-formed XML, one bar per present value with its label, widths in proportion, determinism.

import Foundation
import Testing

@testable import KilnData

@Suite struct BarChartTests {
  static let chart = BarChart(
    title: "profile <resnet> & co",
    categories: ["stem", "b1_conv1", "b1_add \"x\""],
    series: [.init("unfused", [40, 30, 10]), .init("fused", [20, .nan, 5])], unit: "µs")

  @Test func isWellFormedWithOneBarPerPresentValue() throws {
    let doc = ChartTests.parse(Self.chart.svg())
    let bars = doc.elements.filter { $0.name == "rect" && $0.attributes["data-series"] != nil }
    #expect(bars.count == 5, "the missing fused value draws no bar")
    #expect(
      bars.map { $0.attributes["data-category"] ?? "" } == ["stem", "stem", "b1_conv1", "b1_add \"x\"", "b1_add \"x\""])
    #expect(doc.texts.contains("profile <resnet> & co"))
    #expect(doc.texts.contains("40.0 µs") && doc.texts.contains("5.0 µs") && doc.texts.contains("–"))
    #expect(doc.texts.contains("unfused") && doc.texts.contains("fused"), "the legend")
  }

  @Test func barWidthsAreProportionalToTheValues() throws {
    let bars = ChartTests.parse(Self.chart.svg()).elements.filter { $0.attributes["data-series"] != nil }
    let widths = bars.compactMap { Double($0.attributes["width"] ?? "") }
    #expect(widths.count == 5)
    // 40, 20, 30, 10, 5 in drawing order.
    #expect(abs(widths[0] / widths[1] - 2) < 1e-3)
    #expect(abs(widths[2] / widths[3] - 3) < 1e-3)
    #expect(abs(widths[3] / widths[4] - 2) < 1e-3)
    #expect(Set(bars.compactMap { $0.attributes["x"] }).count == 1, "every bar starts at the axis")
  }

  @Test func isDeterministicAndWritesAtomically() throws {
    #expect(Self.chart.svg() == Self.chart.svg())
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("kiln-bar-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: dir) }
    let path = dir.appendingPathComponent("chart.svg").path
    try Self.chart.write(to: path)
    #expect(try String(contentsOfFile: path, encoding: .utf8) == Self.chart.svg())
  }

  @Test func anEmptyChartIsStillWellFormed() throws {
    let doc = ChartTests.parse(BarChart(title: "nothing", categories: [], series: [], unit: "µs").svg())
    #expect(doc.elements.first?.name == "svg")
  }
}
