// A small, dependency-free SVG chart of horizontal bars: named series compared category by category.

import Foundation

/// Horizontal bars: for each category (a row, labelled on the left) one bar per series, in series order, each
/// labelled with its value; an x axis with nicely rounded ticks, a legend and a title.
///
/// The output is deterministic: the same chart gives the same bytes. Missing values (NaN) draw no bar and the
/// label "–"; negative and infinite values are drawn as zero-length bars but labelled as they are.
public struct BarChart: Hashable, Sendable {
  /// One named set of values, one per category.
  public struct Series: Hashable, Sendable {
    /// The legend's name.
    public var name: String
    /// The value of each category, in category order (missing trailing values draw nothing).
    public var values: [Double]

    /// A series named `name`.
    public init(_ name: String, _ values: [Double]) {
      self.name = name
      self.values = values
    }
  }

  /// The title above the plot.
  public var title: String
  /// The row labels, top to bottom.
  public var categories: [String]
  /// The series; each category shows one bar of each.
  public var series: [Series]
  /// The unit after each bar's value and on the axis, e.g. `µs`.
  public var unit: String
  /// Decimals of each bar's value label.
  public var decimals = 1
  /// The image width in pixels (the height follows from the rows).
  public var width = 880
  /// The thickness of one bar in pixels.
  public var barHeight = 12

  /// A chart titled `title` of `series` over `categories`, values in `unit`.
  public init(title: String, categories: [String], series: [Series], unit: String) {
    self.title = title
    self.categories = categories
    self.series = series
    self.unit = unit
  }

  /// Writes the SVG to `path` atomically (temporary file, then rename).
  public func write(to path: String) throws {
    try AtomicFile.write(Array(svg().utf8), to: path)
  }

  /// The chart as an SVG document.
  public func svg() -> String {
    let labelWidth = Double(min(max(categories.map(\.count).max() ?? 0, 4), 40)) * 7 + 16
    let (left, top) = (labelWidth, 56.0)
    let right = Double(width) - 90
    let rowGap = 8.0
    let rowHeight = Double(max(series.count, 1) * barHeight) + rowGap
    let bottom = top + rowHeight * Double(categories.count)
    let height = Int(bottom + 44)
    let finite = series.flatMap(\.values).filter { $0.isFinite }
    let ticks = LineChart.ticks(low: 0, high: max(finite.max() ?? 1, 1e-12), maxCount: 6, integral: false)
    let high = ticks.last ?? 1
    func x(_ v: Double) -> Double { left + max(0, min(v, high)) / high * (right - left) }

    var out: [String] = [
      #"<?xml version="1.0" encoding="UTF-8"?>"#,
      element(
        "svg",
        [
          "xmlns": "http://www.w3.org/2000/svg", "width": "\(width)", "height": "\(height)",
          "viewBox": "0 0 \(width) \(height)", "font-family": "sans-serif", "font-size": "11",
        ], open: true),
      element("rect", ["width": "100%", "height": "100%", "fill": "white"]),
      element("text", ["x": f(Double(width) / 2), "y": "22", "text-anchor": "middle", "font-size": "15"], text: title),
    ]
    for t in ticks {
      out.append(
        element("line", ["x1": f(x(t)), "y1": f(top), "x2": f(x(t)), "y2": f(bottom), "stroke": LineChart.gridColor]))
      out.append(
        element("text", ["x": f(x(t)), "y": f(bottom + 16), "text-anchor": "middle"], text: LineChart.label(t, ticks)))
    }
    out.append(element("text", ["x": f((left + right) / 2), "y": f(bottom + 34), "text-anchor": "middle"], text: unit))
    for (row, category) in categories.enumerated() {
      let rowTop = top + Double(row) * rowHeight + rowGap / 2
      let middle = rowTop + Double(series.count * barHeight) / 2
      out.append(element("text", ["x": f(left - 8), "y": f(middle + 4), "text-anchor": "end"], text: category))
      for (i, s) in series.enumerated() {
        let y = rowTop + Double(i * barHeight)
        let value = row < s.values.count ? s.values[row] : .nan
        let color = LineChart.palette[i % LineChart.palette.count]
        if !value.isNaN {
          out.append(
            element(
              "rect",
              [
                ("data-series", s.name), ("data-category", category), ("x", f(left)), ("y", f(y + 1)),
                ("width", f(x(value) - left)), ("height", f(Double(barHeight) - 2)), ("fill", color),
              ]))
        }
        let text = value.isNaN ? "–" : String(format: "%.\(decimals)f", value) + " " + unit
        out.append(element("text", ["x": f(x(value) + 4), "y": f(y + Double(barHeight) - 2)], text: text))
      }
    }
    out.append(
      element(
        "rect",
        [
          "x": f(left), "y": f(top), "width": f(right - left), "height": f(bottom - top), "fill": "none",
          "stroke": LineChart.frameColor,
        ]))
    for (i, s) in series.enumerated() {
      let lx = left + Double(i) * 150
      let color = LineChart.palette[i % LineChart.palette.count]
      out.append(element("rect", ["x": f(lx), "y": f(top - 20), "width": "14", "height": "10", "fill": color]))
      out.append(element("text", ["x": f(lx + 20), "y": f(top - 11)], text: s.name))
    }
    out.append("</svg>")
    return out.joined(separator: "\n") + "\n"
  }
}

/// A coordinate with two decimals.
private func f(_ v: Double) -> String { String(format: "%.2f", v) }
