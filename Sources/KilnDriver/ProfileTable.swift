// The table `kiln profile` prints: unfused layers grouped under the fused kernels that replaced them, then totals.
import Foundation
import KilnPasses

extension ProfileReport {
  /// One row per unfused step; a fused kernel that replaced several of them heads a group (its own time, GFLOP/s
  /// and share in the fused columns, the sum of its members' in the unfused ones) with the members indented
  /// under it. Then the totals, the speed-up, both arenas and the largest output difference.
  public func renderTable() -> String {
    let header = [
      "layer", "op", "kernel", "unfused µs", "GFLOP/s", "share", "fused µs", "GFLOP/s", "share", "speed-up",
    ]
    let unfusedTotal = unfused.kernelSeconds
    let fusedTotal = fused.kernelSeconds
    func us(_ s: Double) -> String { String(format: "%.1f", s * 1e6) }
    func rate(_ macs: Int, _ s: Double) -> String {
      gflopsRate(macs: macs, seconds: s).map { String(format: "%.1f", $0) } ?? "-"
    }
    func share(_ s: Double, _ total: Double) -> String { total > 0 ? String(format: "%.1f%%", s / total * 100) : "-" }
    func ratio(_ a: Double, _ b: Double) -> String { a > 0 && b > 0 ? String(format: "%.2f×", a / b) : "" }
    func unfusedCells(_ steps: [Int]) -> [String] {
      guard !steps.isEmpty else { return ["", "", ""] }
      let s = steps.map { unfused.steps[$0].time.median }.reduce(0, +)
      return [us(s), rate(steps.map { unfused.steps[$0].macs }.reduce(0, +), s), share(s, unfusedTotal)]
    }
    func fusedCells(_ steps: [Int]) -> [String] {
      guard !steps.isEmpty else { return ["", "", ""] }
      let s = steps.map { fused.steps[$0].time.median }.reduce(0, +)
      return [us(s), rate(steps.map { fused.steps[$0].macs }.reduce(0, +), s), share(s, fusedTotal)]
    }

    var rows: [[String]] = [header]
    for g in groups {
      let speedup = ratio(unfusedSeconds(g), fusedSeconds(g))
      if g.unfusedSteps.count == 1 && g.fusedSteps.count == 1 {
        let u = unfused.steps[g.unfusedSteps[0]]
        rows.append([u.layer, u.op, u.template] + unfusedCells(g.unfusedSteps) + fusedCells(g.fusedSteps) + [speedup])
        continue
      }
      let fusedOps = g.fusedSteps.map { fused.steps[$0] }
      rows.append(
        [
          g.name, fusedOps.isEmpty ? "(not in the fused variant)" : fusedOps.map(\.op).joined(separator: ", "),
          fusedOps.map(\.template).joined(separator: ", "),
        ] + unfusedCells(g.unfusedSteps) + fusedCells(g.fusedSteps) + [speedup])
      for i in g.unfusedSteps {
        let u = unfused.steps[i]
        rows.append(["  \(u.layer)", u.op, u.template] + unfusedCells([i]) + ["", "", "", ""])
      }
    }
    let totals =
      ["total of the steps", "", ""] + [us(unfusedTotal), "", share(unfusedTotal, unfusedTotal)]
      + [us(fusedTotal), "", share(fusedTotal, fusedTotal), ratio(unfusedTotal, fusedTotal)]
    let widths = header.indices.map { c in (rows + [totals]).map { $0[c].count }.max() ?? 0 }
    func line(_ r: [String]) -> String {
      r.enumerated().map { c, s in
        let pad = String(repeating: " ", count: widths[c] - s.count)
        return c >= 3 ? pad + s : s + pad
      }.joined(separator: "  ").trimmingTrailingSpaces()
    }
    let rule = String(repeating: "─", count: widths.reduce(0, +) + 2 * (widths.count - 1))
    let threadText = threads.map { "\($0) thread\($0 == 1 ? "" : "s")" } ?? "OpenMP's default threads"
    var out = [
      "profile of \(network): batch \(batch), \(threadText), built by \(compiler); each time is the median of \(reps) "
        + "run\(reps == 1 ? "" : "s") after \(warmup) warm-up run\(warmup == 1 ? "" : "s"), the variants alternating",
      "unfused: the pipeline without \(fused.passes.filter { !unfused.passes.contains($0) }.joined(separator: ", ").nonEmpty ?? "any fusion pass"); "
        + "a fused kernel heads the unfused layers it replaced",
      line(rows[0]), rule,
    ]
    out += rows.dropFirst().map(line)
    out.append(rule)
    out.append(line(totals))
    func call(_ v: VariantProfile) -> String {
      "\(us(v.wall.median)) µs [\(us(v.wall.min))–\(us(v.wall.max))]"
    }
    out.append(
      "whole call, median [min–max]: unfused \(call(unfused)), fused \(call(fused)); speed-up "
        + String(format: "%.2f×", speedup))
    out.append("arena: unfused \(bytes(unfused.arenaBytes)), fused \(bytes(fused.arenaBytes))")
    out.append(
      "outputs, fused against unfused: largest difference "
        + String(format: "%.3g absolute, %.3g relative", maxAbsoluteDifference, maxRelativeDifference)
        + " (to the output's largest |value|)")
    return out.joined(separator: "\n") + "\n"
  }
}

extension String {
  /// The string, or nil when it is empty.
  var nonEmpty: String? { isEmpty ? nil : self }

  func trimmingTrailingSpaces() -> String {
    var s = self
    while s.last == " " { s.removeLast() }
    return s
  }
}
