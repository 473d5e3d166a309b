// The SVG line chart: well-formed XML, one polyline per series with a point per finite value, nice ticks, determinism.

import Foundation
import Testing

@testable import KilnData

#if canImport(FoundationXML)
  import FoundationXML
#endif

/// Collects the elements of an XML document and the text of each element (the parser delivers it in pieces).
final class ElementCollector: NSObject, XMLParserDelegate {
  var elements: [(name: String, attributes: [String: String])] = []
  var texts: [String] = []
  private var current = ""
  func parser(
    _ parser: XMLParser, didStartElement name: String, namespaceURI: String?, qualifiedName: String?,
    attributes: [String: String]
  ) {
    elements.append((name, attributes))
    current = ""
  }
  func parser(_ parser: XMLParser, foundCharacters string: String) { current += string }
  func parser(_ parser: XMLParser, didEndElement name: String, namespaceURI: String?, qualifiedName: String?) {
    texts.append(current)
    current = ""
  }
}

@Suite struct ChartTests {
  static let chart: LineChart = {
    var c = LineChart(
      title: "MLP <Fashion-MNIST> & co",
      series: [
        .init("train loss", [2.1, 0.9, 0.6, 0.5]),
        .init("validation loss", [1.8, .nan, 0.7, 0.65]),
        .init("validation accuracy", [0.62, 0.78, 0.83, 0.85], axis: .right),
      ])
    c.rightLabel = "accuracy \"val\""
    return c
  }()

  /// Parses `svg`, recording an issue when it is not well-formed.
  static func parse(_ svg: String, sourceLocation: Testing.SourceLocation = #_sourceLocation) -> ElementCollector {
    let parser = XMLParser(data: Data(svg.utf8))
    let collector = ElementCollector()
    parser.delegate = collector
    #expect(
      parser.parse(), "not well-formed: \(String(describing: parser.parserError))", sourceLocation: sourceLocation)
    return collector
  }

  @Test func isWellFormedWithAPolylinePerSeries() throws {
    let svg = Self.chart.svg()
    let doc = Self.parse(svg)
    #expect(doc.elements.first?.name == "svg")
    let lines = doc.elements.filter { $0.name == "polyline" }
    #expect(lines.map { $0.attributes["data-series"] } == ["train loss", "validation loss", "validation accuracy"])
    // The NaN of the validation loss is left out of its polyline.
    let pointCounts = lines.map { ($0.attributes["points"] ?? "").split(separator: " ").count }
    #expect(pointCounts == [4, 3, 4])
    for line in lines {
      for point in (line.attributes["points"] ?? "").split(separator: " ") {
        let xy = point.split(separator: ",").compactMap { Double($0) }
        #expect(xy.count == 2 && xy.allSatisfy { $0 >= 0 && $0 <= 720 }, "point \(point)")
      }
    }
    #expect(lines.map { $0.attributes["stroke-dasharray"] } == [nil, nil, "6 3"])
    // Escaped text comes back intact; the legend names every series.
    for s in ["MLP <Fashion-MNIST> & co", "accuracy \"val\"", "train loss", "validation accuracy", "epoch", "loss"] {
      #expect(doc.texts.contains(s), "missing text \(s) in \(doc.texts)")
    }
  }

  @Test func higherValuesAreDrawnHigher() {
    let svg = LineChart(title: "t", series: [.init("loss", [3, 1])]).svg()
    let line = Self.parse(svg).elements.first { $0.name == "polyline" }
    let ys = (line?.attributes["points"] ?? "").split(separator: " ").map { Double($0.split(separator: ",")[1])! }
    #expect(ys.count == 2 && ys[0] < ys[1])  // SVG y grows downward
  }

  @Test func outputIsDeterministicAndWrittenAtomically() throws {
    #expect(Self.chart.svg() == Self.chart.svg())
    let dir = try ScratchDirectory()
    defer { dir.remove() }
    try Self.chart.write(to: dir.file("curves.svg"))
    #expect(try String(contentsOfFile: dir.file("curves.svg"), encoding: .utf8) == Self.chart.svg())
    #expect(try dir.listing() == ["curves.svg"])
  }

  @Test func degenerateChartsStayWellFormed() {
    for chart in [
      LineChart(title: "empty", series: []), LineChart(title: "one", series: [.init("loss", [0.5])]),
      LineChart(title: "flat", series: [.init("loss", [2, 2, 2])]),
      LineChart(title: "diverged \u{1}", series: [.init("loss", [.nan, .infinity])]),
    ] {
      let doc = Self.parse(chart.svg())
      #expect(doc.elements.filter { $0.name == "polyline" }.count == chart.series.count)
    }
  }

  @Test func niceTicks() {
    #expect(
      LineChart.ticks(low: 0.12, high: 0.93, maxCount: 6, integral: false).map { ($0 * 10).rounded() / 10 }
        == [0, 0.2, 0.4, 0.6, 0.8, 1])
    #expect(LineChart.ticks(low: 1, high: 30, maxCount: 8, integral: true) == [0, 5, 10, 15, 20, 25, 30])
    #expect(LineChart.ticks(low: 1, high: 3, maxCount: 8, integral: true) == [1, 2, 3])
    #expect(LineChart.ticks(low: 0.31, high: 2.4, maxCount: 6, integral: false) == [0, 0.5, 1, 1.5, 2, 2.5])
    #expect(LineChart.label(0.4, [0, 0.2, 0.4]) == "0.4" && LineChart.label(25, [0, 5]) == "25")
  }
}
