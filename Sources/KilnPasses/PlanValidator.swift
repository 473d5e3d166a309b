// An independent check of a program's arena layout: no live overlap, aligned, in bounds.
import KilnIR

/// A program whose arena layout is unsafe, with every problem found.
public struct PlanValidationError: Error, CustomStringConvertible, Sendable {
  public var violations: [String]
  public var description: String {
    "memory plan invalid (\(violations.count) problem\(violations.count == 1 ? "" : "s")):\n"
      + violations.map { "  - \($0)" }.joined(separator: "\n")
  }
}

/// Checks `Program.arenaOffsets`, `arenaFloats`, the steps' in-place marks and their scratch offsets against the
/// schedule alone.
///
/// It shares nothing with `MemoryPlanner` but the `Program` (not its lifetimes, slots or op classification), so a
/// planner bug cannot hide itself. It checks, for the bytes each buffer really holds (maxBatch × per-sample floats):
/// - every arena buffer a step touches has an offset that is a multiple of 16 floats (64 bytes) and fits the arena;
/// - no caller-owned buffer (input or output) has an arena offset;
/// - two buffers both in use at some step never share a byte, except a legal in-place pair: step `s` is marked
///   in place, reads and writes each element at one index only, its input dies at `s`, its output is born at `s`,
///   and the two occupy exactly the same range;
/// - a step marked in place is such a step, and its output really sits on one of its inputs;
/// - a step that needs scratch (`scratchFloats > 0`) has a 64-byte-aligned `scratchOffset` whose
///   `scratchFloats` fit the arena and share no byte with any buffer in use at that step, its own inputs and
///   output included.
public enum PlanValidator {
  /// Throws `PlanValidationError` listing every violation, if there is any.
  public static func validate(_ program: Program) throws {
    let found = violations(in: program)
    if !found.isEmpty { throw PlanValidationError(violations: found) }
  }

  /// Every violation, as sentences naming the buffers; empty when the layout is safe.
  public static func violations(in program: Program) -> [String] {
    var problems: [String] = []
    let count = program.buffers.count
    var firstUse = [Int?](repeating: nil, count: count)
    var lastUse = [Int?](repeating: nil, count: count)
    for step in program.steps {
      for id in step.inputs + [step.output] {
        guard id.index >= 0, id.index < count else {
          problems.append("step \(step.index) (\(step.kernelName)) names buffer \(id), which does not exist")
          continue
        }
        firstUse[id.index] = min(firstUse[id.index] ?? step.index, step.index)
        lastUse[id.index] = max(lastUse[id.index] ?? step.index, step.index)
      }
    }
    func label(_ b: Buffer) -> String { "\(b.id) '\(b.name)'" }

    // Each buffer alone.
    var ranges: [(buffer: Buffer, start: Int, end: Int, first: Int, last: Int)] = []
    for b in program.buffers {
      let offset = program.arenaOffsets[b.id]
      guard b.storage == .arena else {
        if let offset { problems.append("\(label(b)) belongs to the caller but has arena offset \(offset)") }
        continue
      }
      guard let first = firstUse[b.id.index], let last = lastUse[b.id.index] else { continue }
      guard let offset else {
        problems.append("\(label(b)) is used by steps \(first)...\(last) but has no arena offset")
        continue
      }
      let end = offset + b.elements(batch: program.maxBatch)
      if offset < 0 || offset % 16 != 0 {
        problems.append("\(label(b)) offset \(offset) floats is not 64-byte aligned")
      }
      if end > program.arenaFloats {
        problems.append("\(label(b)) spans floats \(offset)..<\(end), past the arena of \(program.arenaFloats)")
      }
      ranges.append((b, offset, end, first, last))
    }

    // Every pair in use at a common step.
    for i in ranges.indices {
      for j in ranges.indices where j > i {
        let a = ranges[i]
        let b = ranges[j]
        guard a.first <= b.last, b.first <= a.last, a.start < b.end, b.start < a.end else { continue }
        if legalInPlace(a.buffer.id, b.buffer.id, program, firstUse, lastUse)
          || legalInPlace(b.buffer.id, a.buffer.id, program, firstUse, lastUse)
        {
          continue
        }
        problems.append(
          "\(label(a.buffer)) (steps \(a.first)...\(a.last), floats \(a.start)..<\(a.end)) overlaps "
            + "\(label(b.buffer)) (steps \(b.first)...\(b.last), floats \(b.start)..<\(b.end)) while both are live")
      }
    }

    // Scratch: live at its own step alone, beside every buffer in use there.
    for step in program.steps where step.scratchFloats > 0 {
      let what = "step \(step.index) (\(step.kernelName)) scratch"
      guard let start = step.scratchOffset else {
        problems.append("\(what) of \(step.scratchFloats) floats has no arena offset")
        continue
      }
      let end = start + step.scratchFloats
      if start < 0 || start % 16 != 0 { problems.append("\(what) offset \(start) floats is not 64-byte aligned") }
      if end > program.arenaFloats {
        problems.append("\(what) spans floats \(start)..<\(end), past the arena of \(program.arenaFloats)")
      }
      for r in ranges where r.first <= step.index && step.index <= r.last && r.start < end && start < r.end {
        problems.append(
          "\(what) (floats \(start)..<\(end)) overlaps \(label(r.buffer)) (steps \(r.first)...\(r.last), "
            + "floats \(r.start)..<\(r.end)), which is live at that step")
      }
    }

    // In-place marks.
    for step in program.steps where step.inPlace {
      guard readsAndWritesAtOneIndex(step.op, mode: program.mode) else {
        problems.append(
          "step \(step.index) (\(step.kernelName)) is marked in place but \(step.op.name) is not elementwise")
        continue
      }
      let out = program.arenaOffsets[step.output]
      guard out != nil, step.inputs.contains(where: { program.arenaOffsets[$0] == out }) else {
        problems.append(
          "step \(step.index) (\(step.kernelName)) is marked in place but its output shares no input's region")
        continue
      }
    }
    return problems
  }

  /// Whether `input` and `output` may share bytes: some step marked in place and elementwise reads `input` for
  /// the last time and writes `output` first, and the two are the same range.
  static func legalInPlace(
    _ input: BufferID, _ output: BufferID, _ p: Program, _ firstUse: [Int?], _ lastUse: [Int?]
  ) -> Bool {
    p.steps.contains { s in
      s.inPlace && readsAndWritesAtOneIndex(s.op, mode: p.mode) && s.output == output && s.inputs.contains(input)
        && lastUse[input.index] == s.index && firstUse[output.index] == s.index
        && p.arenaOffsets[input] == p.arenaOffsets[output]
        && p[input].elements(batch: p.maxBatch) == p[output].elements(batch: p.maxBatch)
    }
  }

  /// The ops whose kernels compute `y[i]` from the inputs' element `i` alone (see their templates), the only
  /// ones that may write over an input. A training-mode batch norm reads the whole batch (its statistics) first.
  static func readsAndWritesAtOneIndex(_ op: Op, mode: PipelineMode) -> Bool {
    switch op {
    case .batchNorm: return mode == .inference
    case .add, .mul: return true
    case .activation(let a): return a.isElementwise
    case .input, .dense, .conv2d, .maxPool, .avgPool, .globalAvgPool, .flatten, .reshape, .concat, .dropout, .lrn,
      .loss, .gradient, .optimizerStep:
      return false
    }
  }
}
