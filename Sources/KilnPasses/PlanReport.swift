// What `kiln plan` shows: each arena buffer's and step scratch's lifetime and region, then the plan's size.
import KilnIR

/// A memory plan in bytes, with buffer names, ready to print as a table or encode as JSON.
public struct PlanReport: Codable, Hashable, Sendable {
  /// One arena buffer.
  public struct Row: Codable, Hashable, Sendable {
    /// The C name, e.g. `t3`.
    public var buffer: String
    /// The graph value it holds, e.g. `c1`.
    public var name: String
    /// The step that writes it and the last step that reads it (`Step.index`, as in `k<index>_…`).
    public var firstStep: Int
    public var lastStep: Int
    public var offsetBytes: Int
    public var sizeBytes: Int
    /// The buffer (C name) whose region it reuses in place, if any.
    public var inPlaceOf: String?
  }

  public var network: String
  public var batch: Int
  /// `inference` or `training` (one training step: forward, loss, backward, updates).
  public var mode: String
  public var buffers: [Row]
  /// One row per step that needs scratch: buffer `s<step>`, value `scratch of <kernel>`, live at that step alone.
  public var scratch: [Row]
  /// Peak bytes live at one step, in-place pairs counted once: what no plan can beat.
  public var lowerBoundBytes: Int
  /// Bytes of the planned arena, activations and scratch together: the generated header's ARENA_BYTES.
  public var arenaBytes: Int
  /// lower bound / arena.
  public var efficiency: Double
  /// Bytes a layout without sharing (every buffer its own region) would need.
  public var noSharingBytes: Int
  /// The heuristic whose plan was kept.
  public var heuristic: String
  /// Arena bytes each heuristic reached.
  public var heuristics: [String: Int]

  /// The report of `plan`, made for `program`.
  public init(program: Program, plan: MemoryPlan) {
    network = program.name
    batch = program.maxBatch
    mode = program.mode.rawValue
    buffers = plan.allocations.map { a in
      Row(
        buffer: a.buffer.description, name: program[a.buffer].name, firstStep: a.lifetime.first,
        lastStep: a.lifetime.last, offsetBytes: a.offset * 4, sizeBytes: a.floats * 4,
        inPlaceOf: a.inPlaceOf?.description)
    }
    let kernels = Dictionary(uniqueKeysWithValues: program.steps.map { ($0.index, $0.kernelName) })
    scratch = plan.scratch.map { a in
      Row(
        buffer: "s\(a.step)", name: "scratch of \(kernels[a.step] ?? "step \(a.step)")", firstStep: a.step,
        lastStep: a.step, offsetBytes: a.offset * 4, sizeBytes: a.floats * 4, inPlaceOf: nil)
    }
    lowerBoundBytes = plan.lowerBoundFloats * 4
    arenaBytes = plan.arenaFloats * 4
    efficiency = plan.efficiency
    noSharingBytes = plan.noSharingFloats * 4
    heuristic = plan.heuristic.rawValue
    heuristics = Dictionary(uniqueKeysWithValues: plan.trials.map { ($0.heuristic.rawValue, $0.arenaFloats * 4) })
  }

  /// The table `kiln plan` prints: one row per buffer and per step's scratch, then the lower bound, arena, efficiency and no-sharing size.
  public func renderTable() -> String {
    let header = ["buffer", "value", "first", "last", "offset", "size", "in place"]
    var rows = (buffers + scratch).map { r in
      [
        r.buffer, r.name, "\(r.firstStep)", "\(r.lastStep)", grouped(r.offsetBytes), grouped(r.sizeBytes),
        r.inPlaceOf.map { "over \($0)" } ?? "",
      ]
    }
    rows.insert(header, at: 0)
    let widths = header.indices.map { c in rows.map { $0[c].count }.max() ?? 0 }
    let rightAligned: Set<Int> = [2, 3, 4, 5]
    func line(_ r: [String]) -> String {
      r.enumerated().map { c, s in
        let pad = String(repeating: " ", count: widths[c] - s.count)
        return rightAligned.contains(c) ? pad + s : s + pad
      }.joined(separator: "  ").trimmingTrailingSpaces()
    }
    let rule = String(repeating: "─", count: widths.reduce(0, +) + 2 * (widths.count - 1))
    var out = [
      mode == PipelineMode.training.rawValue
        ? "network \(network), one training step at batch \(batch): arena buffers and kernel scratch (steps as in tk<step>_…, bytes)"
        : "network \(network), batch \(batch): arena buffers and kernel scratch (steps as in k<step>_…, bytes)",
      line(rows[0]), rule,
    ]
    out += rows.dropFirst().map(line)
    out.append(rule)
    let percent = (efficiency * 1000).rounded() / 10
    out.append("lower bound (peak live): \(bytes(lowerBoundBytes))")
    out.append("arena:                   \(bytes(arenaBytes)) (\(heuristic)), efficiency \(percent)%")
    out.append("without sharing:         \(bytes(noSharingBytes))")
    return out.joined(separator: "\n") + "\n"
  }
}
