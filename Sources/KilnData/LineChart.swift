// A small, dependency-free SVG line chart for training curves: named series over epochs, two y axes, a legend.

import Foundation

/// Training curves as an SVG image: each series is one value per epoch (epoch 1 first), drawn on the left axis
/// (losses) or the right axis (accuracies), with nicely rounded ticks, a legend and a title.
///
/// The output is deterministic: the same chart gives the same bytes (fixed number formatting, no timestamps).
/// Non-finite values (a diverged loss) are left out of the axis ranges and of their series' polyline.
public struct LineChart: Hashable, Sendable {
  /// Which y axis a series is drawn against.
  public enum Axis: String, Hashable, Sendable {
    case left, right
  }

  /// One named curve.
  public struct Series: Hashable, Sendable {
    /// The legend's name of the curve.
    public var name: String
    /// The value at each epoch, epoch 1 first.
    public var values: [Double]
    /// The y axis it is drawn against; right-axis curves are dashed.
    public var axis: Axis

    /// A series of `values` named `name` on `axis`.
    public init(_ name: String, _ values: [Double], axis: Axis = .left) {
      self.name = name
      self.values = values
      self.axis = axis
    }
  }

  /// The title above the plot.
  public var title: String
  /// The curves, drawn in order.
  public var series: [Series]
  /// The x axis label.
  public var xLabel = "epoch"
  /// The left y axis label.
  public var leftLabel = "loss"
  /// The right y axis label (shown when a series uses the right axis).
  public var rightLabel = "accuracy"
  /// The image size in pixels.
  public var width = 720
  /// The image height in pixels.
  public var height = 420

  /// A chart titled `title` of `series`.
  public init(title: String, series: [Series]) {
    self.title = title
    self.series = series
  }

  /// The color of grid lines and of the plot's frame.
  static let (gridColor, frameColor) = ("#e5e5e5", "#333333")
  /// The colors of the series, in order (repeating).
  static let palette = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b"]

  /// Writes the SVG to `path` atomically (temporary file, then rename).
  public func write(to path: String) throws {
    try AtomicFile.write(Array(svg().utf8), to: path)
  }

  /// The chart as an SVG document.
  public func svg() -> String {
    let usesRight = series.contains { $0.axis == .right }
    let (left, top) = (70.0, 48.0)
    let right = Double(width) - (usesRight ? 70 : 24)
    let bottom = Double(height) - 52
    let epochs = max(series.map(\.values.count).max() ?? 0, 1)
    let xTicks = Self.ticks(low: 1, high: Double(max(epochs, 2)), maxCount: 8, integral: true)
    let (xLow, xHigh) = (xTicks.first!, xTicks.last!)
    func finite(_ axis: Axis) -> [Double] { series.filter { $0.axis == axis }.flatMap(\.values).filter(\.isFinite) }
    let leftTicks = Self.ticks(values: finite(.left))
    let rightTicks = Self.ticks(values: finite(.right))
    func x(_ v: Double) -> Double { left + (v - xLow) / (xHigh - xLow) * (right - left) }
    func y(_ v: Double, _ ticks: [Double]) -> Double {
      bottom - (v - ticks.first!) / (ticks.last! - ticks.first!) * (bottom - top)
    }

    let mid = (top + bottom) / 2
    var out: [String] = [
      #"<?xml version="1.0" encoding="UTF-8"?>"#,
      element(
        "svg",
        [
          "xmlns": "http://www.w3.org/2000/svg", "width": "\(width)", "height": "\(height)",
          "viewBox": "0 0 \(width) \(height)", "font-family": "sans-serif", "font-size": "12",
        ], open: true),
      element("rect", ["width": "100%", "height": "100%", "fill": "white"]),
      element(
        "text", ["x": f(Double(width) / 2), "y": "24", "text-anchor": "middle", "font-size": "16"], text: title),
    ]
    // Grid and ticks.
    for t in xTicks {
      out.append(
        element("line", ["x1": f(x(t)), "y1": f(top), "x2": f(x(t)), "y2": f(bottom), "stroke": Self.gridColor]))
      out.append(
        element("text", ["x": f(x(t)), "y": f(bottom + 18), "text-anchor": "middle"], text: Self.label(t, xTicks)))
    }
    for t in leftTicks {
      let ty = y(t, leftTicks)
      out.append(element("line", ["x1": f(left), "y1": f(ty), "x2": f(right), "y2": f(ty), "stroke": Self.gridColor]))
      out.append(
        element("text", ["x": f(left - 8), "y": f(ty + 4), "text-anchor": "end"], text: Self.label(t, leftTicks)))
    }
    if usesRight {
      for t in rightTicks {
        out.append(element("text", ["x": f(right + 8), "y": f(y(t, rightTicks) + 4)], text: Self.label(t, rightTicks)))
      }
      let lx = f(Double(width) - 16)
      out.append(
        element(
          "text",
          ["x": lx, "y": f(mid), "text-anchor": "middle", "transform": "rotate(90 \(lx) \(f(mid)))"],
          text: rightLabel))
    }
    // The frame and the axis labels.
    out.append(
      element(
        "rect",
        [
          "x": f(left), "y": f(top), "width": f(right - left), "height": f(bottom - top), "fill": "none",
          "stroke": Self.frameColor,
        ]))
    out.append(
      element(
        "text", ["x": f((left + right) / 2), "y": f(Double(height) - 14), "text-anchor": "middle"], text: xLabel))
    out.append(
      element(
        "text", ["x": "18", "y": f(mid), "text-anchor": "middle", "transform": "rotate(-90 18 \(f(mid)))"],
        text: leftLabel))
    // Curves, then the legend over them; right-axis curves are dashed.
    for (i, s) in series.enumerated() {
      let ticks = s.axis == .left ? leftTicks : rightTicks
      let points = s.values.enumerated().filter { $0.element.isFinite }
        .map { "\(f(x(Double($0.offset + 1)))),\(f(y($0.element, ticks)))" }
      var attributes = [
        ("data-series", s.name), ("points", points.joined(separator: " ")), ("fill", "none"),
        ("stroke", Self.palette[i % Self.palette.count]), ("stroke-width", "2"),
      ]
      if s.axis == .right { attributes.append(("stroke-dasharray", "6 3")) }
      out.append(element("polyline", attributes))
    }
    for (i, s) in series.enumerated() {
      let ly = top + 16 + Double(i) * 18
      var attributes = [
        ("x1", f(right - 150)), ("y1", f(ly - 4)), ("x2", f(right - 126)), ("y2", f(ly - 4)),
        ("stroke", Self.palette[i % Self.palette.count]), ("stroke-width", "2"),
      ]
      if s.axis == .right { attributes.append(("stroke-dasharray", "6 3")) }
      out.append(element("line", attributes))
      out.append(element("text", ["x": f(right - 120), "y": f(ly)], text: s.name))
    }
    out.append("</svg>")
    return out.joined(separator: "\n") + "\n"
  }

  /// Nice ticks covering the finite `values` (0…1 when there are none; ±1 around a single value).
  static func ticks(values: [Double]) -> [Double] {
    guard let low = values.min(), let high = values.max() else { return [0, 0.5, 1] }
    if low == high {
      let pad = low == 0 ? 1 : abs(low) * 0.1
      return ticks(low: low - pad, high: high + pad, maxCount: 6, integral: false)
    }
    return ticks(low: low, high: high, maxCount: 6, integral: false)
  }

  /// Ticks after Heckbert's nice numbers ("Nice numbers for graph labels", Graphics Gems, 1990): the step is the
  /// 1, 2 or 5 × 10ᵏ nearest to (high − low)/(maxCount − 1) (at least 1 when `integral`), and the ticks run from
  /// ⌊low/step⌋·step to ⌈high/step⌉·step, so about `maxCount` of them cover the range. (Heckbert first rounds the
  /// range itself up to a nice number, which gives too few ticks, e.g. 4 for 30 epochs.)
  public static func ticks(low: Double, high: Double, maxCount: Int, integral: Bool) -> [Double] {
    guard low.isFinite, high.isFinite, high > low, maxCount >= 2 else { return [low, low + 1] }
    var step = nice((high - low) / Double(maxCount - 1), round: true)
    if integral { step = max(1, step.rounded()) }
    let first = (low / step).rounded(.down)
    let last = (high / step).rounded(.up)
    return stride(from: first, through: last, by: 1).map { ($0 * step) }
  }

  /// The nice number (1, 2, 5 or 10 × 10ᵏ) nearest to `x` (`round`), or the smallest at least `x`.
  static func nice(_ x: Double, round: Bool) -> Double {
    let exponent = log10(x).rounded(.down)
    let unit = pow(10, exponent)
    let fraction = x / unit
    let niceFraction: Double
    if round {
      niceFraction = fraction < 1.5 ? 1 : fraction < 3 ? 2 : fraction < 7 ? 5 : 10
    } else {
      niceFraction = fraction <= 1 ? 1 : fraction <= 2 ? 2 : fraction <= 5 ? 5 : 10
    }
    return niceFraction * unit
  }

  /// A tick value with as many decimals as the tick step needs.
  static func label(_ v: Double, _ ticks: [Double]) -> String {
    let step = ticks.count > 1 ? ticks[1] - ticks[0] : 1
    let decimals = max(0, min(10, Int(-log10(step).rounded(.down))))
    let text = String(format: "%.\(decimals)f", v)
    return text.hasPrefix("-") && Double(text) == 0 ? String(text.dropFirst()) : text
  }
}

/// A coordinate with two decimals.
private func f(_ v: Double) -> String { String(format: "%.2f", v) }
