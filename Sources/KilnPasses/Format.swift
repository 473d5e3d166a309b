// Plain-text rendering of the network summary as an aligned table.
import KilnIR

extension NetworkSummary {
  /// The table `kiln check` prints: one row per layer, then totals and memory at batch 1.
  public func renderTable() -> String {
    let header = ["layer", "op", "output", "params", "MACs"]
    var rows = layers.map { l in
      [l.name, l.op, l.shape.map(String.init).joined(separator: "×"), grouped(l.parameters + l.buffers), grouped(l.macs)]
    }
    rows.insert(header, at: 0)
    let widths = (0..<header.count).map { c in rows.map { $0[c].count }.max() ?? 0 }
    let rightAligned: Set<Int> = [3, 4]
    func line(_ r: [String]) -> String {
      r.enumerated().map { c, s in
        let pad = String(repeating: " ", count: widths[c] - s.count)
        return rightAligned.contains(c) ? pad + s : s + pad
      }.joined(separator: "  ").trimmingTrailingSpaces()
    }
    var out = ["network \(network)", line(rows[0]), String(repeating: "─", count: widths.reduce(0, +) + 2 * (widths.count - 1))]
    out += rows.dropFirst().map(line)
    out.append(String(repeating: "─", count: widths.reduce(0, +) + 2 * (widths.count - 1)))
    var params = "parameters: \(grouped(totalParameters)) trainable (\(grouped(totalWeights)) weights, \(grouped(totalBiases)) biases)"
    if totalBuffers > 0 { params += ", \(grouped(totalBuffers)) buffers (batch-norm running statistics)" }
    out.append(params)
    out.append("multiply-accumulates per sample: \(grouped(totalMACs))")
    out.append("weights: \(bytes(weightBytes))")
    out.append(
      "activations at batch 1: \(bytes(activationBytes)) all values, \(bytes(peakActivationBytes)) peak live")
    return out.joined(separator: "\n") + "\n"
  }
}

/// 137660 → "137,660".
public func grouped(_ n: Int) -> String {
  let digits = String(n.magnitude)
  var out = ""
  for (i, ch) in digits.enumerated() {
    if i > 0 && (digits.count - i) % 3 == 0 { out.append(",") }
    out.append(ch)
  }
  return n < 0 ? "-" + out : out
}

/// Bytes with a binary unit: "1,024 B (1.0 KiB)".
public func bytes(_ n: Int) -> String {
  let units = ["KiB", "MiB", "GiB"]
  var value = Double(n)
  var unit = ""
  for u in units where value >= 1024 {
    value /= 1024
    unit = u
  }
  if unit.isEmpty { return "\(grouped(n)) B" }
  let rounded = (value * 10).rounded() / 10
  return "\(grouped(n)) B (\(rounded) \(unit))"
}

extension String {
  func trimmingTrailingSpaces() -> String {
    var s = self
    while s.last == " " { s.removeLast() }
    return s
  }
}
