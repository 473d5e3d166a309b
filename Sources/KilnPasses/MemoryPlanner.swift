// The static memory planner: lifetimes -> in-place chains -> offsets in one 64-byte-aligned arena.
import KilnIR

/// Where every arena buffer of a program lives, and how good that is.
public struct MemoryPlan: Hashable, Sendable {
  /// One arena buffer's region.
  public struct Allocation: Hashable, Sendable {
    public var buffer: BufferID
    /// The steps during which it holds its value.
    public var lifetime: Lifetime
    /// Offset in floats from the start of the arena; a multiple of 16 (64 bytes).
    public var offset: Int
    /// Floats reserved: the buffer at the maximum batch, rounded up to 16.
    public var floats: Int
    /// The input whose region this buffer reuses in place (its producer is elementwise and that input dies there).
    public var inPlaceOf: BufferID?
  }

  /// One step's scratch region: working memory live at that step alone.
  public struct ScratchAllocation: Hashable, Sendable {
    /// The step whose kernel uses it (`Step.index`).
    public var step: Int
    /// Offset in floats from the start of the arena; a multiple of 16 (64 bytes).
    public var offset: Int
    /// Floats reserved: the step's `scratchFloats`, rounded up to 16.
    public var floats: Int
  }

  /// The size an ordering heuristic reached.
  public struct Trial: Hashable, Sendable {
    public var heuristic: MemoryPlanner.Heuristic
    public var arenaFloats: Int
  }

  /// One allocation per planned buffer, in buffer order.
  public var allocations: [Allocation]
  /// One region per step that needs scratch, in step order.
  public var scratch: [ScratchAllocation]
  /// The steps that write their output over a dying input (`Step.index`).
  public var inPlaceSteps: Set<Int>
  /// Floats of arena the plan needs.
  public var arenaFloats: Int
  /// The largest number of floats live at any one step (buffers and that step's scratch), in-place pairs counted
  /// once: no plan can be smaller.
  public var lowerBoundFloats: Int
  /// Floats a layout giving every buffer and every step's scratch its own region needs.
  public var noSharingFloats: Int
  /// The heuristic whose result was kept (the first of the smallest).
  public var heuristic: MemoryPlanner.Heuristic
  /// Every heuristic tried, in order, with the arena it reached.
  public var trials: [Trial]

  /// lower bound / arena: 1 is optimal; 1 when nothing needs the arena.
  public var efficiency: Double { arenaFloats == 0 ? 1 : Double(lowerBoundFloats) / Double(arenaFloats) }

  /// The allocation of `buffer`, if it is planned.
  public func allocation(of buffer: BufferID) -> Allocation? { allocations.first { $0.buffer == buffer } }

  /// The scratch region of step `index`, if it needs one.
  public func scratch(ofStep index: Int) -> ScratchAllocation? { scratch.first { $0.step == index } }
}

/// Plans the arena of a lowered program.
///
/// 1. Lifetimes come from the linear schedule (`Liveness`).
/// 2. In place: an elementwise step (elementwise activation, add, mul, inference batch norm; `mayRunInPlace`) whose arena input
///    dies at that step, and is the same size as its output, writes its output into that input's region. Every
///    such kernel reads and writes element `i` at the same index only, so `y == x` is legal (its template has no
///    `restrict` on that pair). A chain of such steps shares one region: a *slot* spanning the whole chain.
///    A step's scratch (`Step.scratchFloats`) is a slot of its own, live at that step alone: it may share bytes
///    with anything not live there, but never with the step's inputs or output.
/// 3. Offsets: each heuristic orders the slots, then places them one by one at the best fit, the smallest gap
///    among the already-placed slots whose lifetimes overlap it that still holds it (else above them all). The
///    smallest arena wins; ties go to the earlier heuristic, and every ordering breaks ties by buffer index, so
///    the plan is deterministic. Sizes are multiples of 16 floats, so every offset is 64-byte aligned.
///
/// References: Pisarchyk & Lee, "Efficient Memory Management for Deep Neural Net Inference" (2020) — greedy by
/// size and by breadth; TFLite's arena planner and ggml-alloc — best-fit placement over lifetimes.
public enum MemoryPlanner {
  /// The order in which slots are placed.
  public enum Heuristic: String, CaseIterable, Hashable, Sendable, Codable {
    /// Largest first: big buffers claim the low offsets and small ones fill the gaps.
    case greedyBySize = "greedy-by-size"
    /// Most lifetime conflicts first (then largest): the most constrained buffers are placed while space is free.
    case greedyByConflicts = "greedy-by-conflicts"
    /// Steps by total live size, largest first; each step's live buffers largest first.
    case greedyByBreadth = "greedy-by-breadth"
  }

  /// A run of buffers that share one region (the first, and each later one written in place over the one
  /// before), or one step's scratch (no members).
  struct Slot {
    var members: [BufferID]
    var lifetime: Lifetime
    var floats: Int
    /// For tie-breaking: the first member's index; scratch slots come after every buffer, in step order.
    var key: Int
  }

  /// Whether the step's kernel reads and writes each element at one index only, so its output may overwrite
  /// an input of the same size.
  public static func isElementwise(_ op: Op) -> Bool {
    switch op {
    case .activation(let a): return a.isElementwise
    case .add, .mul, .batchNorm: return true
    default: return false
    }
  }

  /// Whether a step computing `op` in a program of `mode` may write its output over a dying input: an
  /// elementwise op, except a training-mode batch norm, whose kernel reduces over the batch (its statistics)
  /// before it writes.
  public static func mayRunInPlace(_ op: Op, mode: PipelineMode) -> Bool {
    if case .batchNorm = op, mode == .training { return false }
    return isElementwise(op)
  }

  /// Plans `program`'s arena buffers (any offsets or in-place marks it already has are ignored). An empty
  /// `heuristics` means all of them.
  public static func plan(_ program: Program, heuristics: [Heuristic] = Heuristic.allCases) -> MemoryPlan {
    let lifetimes = Liveness.lifetimes(of: program)
    func floats(_ id: BufferID) -> Int { alignedFloats(program[id].elements(batch: program.maxBatch)) }

    // In-place chains, in schedule order.
    var slots: [Slot] = []
    var slotOf: [BufferID: Int] = [:]
    var inPlaceOf: [BufferID: BufferID] = [:]
    var inPlaceSteps: Set<Int> = []
    func open(_ id: BufferID) {
      guard slotOf[id] == nil, let span = lifetimes[id] else { return }
      slotOf[id] = slots.count
      slots.append(Slot(members: [id], lifetime: span, floats: floats(id), key: id.index))
    }
    for step in program.steps {
      step.inputs.forEach(open)
      let out = step.output
      guard let outSpan = lifetimes[out], slotOf[out] == nil else { continue }
      let donor =
        mayRunInPlace(step.op, mode: program.mode)
        ? step.inputs.first { id in
          guard let s = slotOf[id] else { return false }
          return slots[s].lifetime.last == step.index && slots[s].floats == floats(out)
            && slots[s].members.last == id
        } : nil
      if let donor, let s = slotOf[donor] {
        slots[s].members.append(out)
        slots[s].lifetime.last = max(slots[s].lifetime.last, outSpan.last)
        slotOf[out] = s
        inPlaceOf[out] = donor
        inPlaceSteps.insert(step.index)
      } else {
        open(out)
      }
    }

    // Scratch: one slot per step that needs it, live at that step alone.
    var scratchSlots: [(step: Int, slot: Int)] = []
    for step in program.steps where step.scratchFloats > 0 {
      scratchSlots.append((step.index, slots.count))
      slots.append(
        Slot(
          members: [], lifetime: Lifetime(first: step.index, last: step.index),
          floats: alignedFloats(step.scratchFloats), key: program.buffers.count + step.index))
    }

    // Offsets: every heuristic, keeping the first smallest.
    let steps = program.steps.map(\.index)
    let tried = (heuristics.isEmpty ? Heuristic.allCases : heuristics).map { heuristic in
      let offsets = place(slots, in: order(slots, by: heuristic, steps: steps))
      return (heuristic: heuristic, offsets: offsets, arena: zip(slots, offsets).map { $0.floats + $1 }.max() ?? 0)
    }
    let chosen = tried.dropFirst().reduce(tried[0]) { $1.arena < $0.arena ? $1 : $0 }

    let allocations = lifetimes.sorted { $0.key < $1.key }.compactMap { id, span -> MemoryPlan.Allocation? in
      guard let s = slotOf[id] else { return nil }
      return MemoryPlan.Allocation(
        buffer: id, lifetime: span, offset: chosen.offsets[s], floats: floats(id), inPlaceOf: inPlaceOf[id])
    }
    let scratch = scratchSlots.map { step, s in
      MemoryPlan.ScratchAllocation(step: step, offset: chosen.offsets[s], floats: slots[s].floats)
    }
    let lowerBound =
      program.steps.map { step in
        slots.filter { $0.lifetime.contains(step.index) }.map(\.floats).reduce(0, +)
      }.max() ?? 0
    return MemoryPlan(
      allocations: allocations, scratch: scratch, inPlaceSteps: inPlaceSteps, arenaFloats: chosen.arena,
      lowerBoundFloats: lowerBound,
      noSharingFloats: allocations.map(\.floats).reduce(0, +) + scratch.map(\.floats).reduce(0, +),
      heuristic: chosen.heuristic,
      trials: tried.map { MemoryPlan.Trial(heuristic: $0.heuristic, arenaFloats: $0.arena) })
  }

  /// The slot indices in the order `heuristic` places them.
  static func order(_ slots: [Slot], by heuristic: Heuristic, steps: [Int]) -> [Int] {
    let bySize = { (a: Int, b: Int) -> Bool in
      slots[a].floats != slots[b].floats ? slots[a].floats > slots[b].floats : slots[a].key < slots[b].key
    }
    switch heuristic {
    case .greedyBySize:
      return slots.indices.sorted(by: bySize)
    case .greedyByConflicts:
      let conflicts = slots.indices.map { i in
        slots.indices.filter { $0 != i && slots[$0].lifetime.overlaps(slots[i].lifetime) }.count
      }
      return slots.indices.sorted { a, b in conflicts[a] != conflicts[b] ? conflicts[a] > conflicts[b] : bySize(a, b) }
    case .greedyByBreadth:
      let live = steps.map { step in slots.indices.filter { slots[$0].lifetime.contains(step) } }
      let breadth = live.map { $0.map { slots[$0].floats }.reduce(0, +) }
      var seen = Set<Int>()
      var result: [Int] = []
      for s in steps.indices.sorted(by: { breadth[$0] != breadth[$1] ? breadth[$0] > breadth[$1] : $0 < $1 }) {
        for slot in live[s].sorted(by: bySize) where seen.insert(slot).inserted { result.append(slot) }
      }
      return result
    }
  }

  /// Best-fit offsets for the slots, placed in `order`; returns each slot's offset by slot index.
  static func place(_ slots: [Slot], in order: [Int]) -> [Int] {
    var offsets = [Int](repeating: 0, count: slots.count)
    var placed: [Int] = []
    for i in order {
      let slot = slots[i]
      let neighbours = placed.filter { slots[$0].lifetime.overlaps(slot.lifetime) }
        .sorted { offsets[$0] != offsets[$1] ? offsets[$0] < offsets[$1] : $0 < $1 }
      var bestOffset: Int?
      var bestGap = Int.max
      var top = 0
      for n in neighbours {
        let gap = offsets[n] - top
        if gap >= slot.floats && gap < bestGap {
          bestGap = gap
          bestOffset = top
        }
        top = max(top, offsets[n] + slots[n].floats)
      }
      offsets[i] = bestOffset ?? top
      placed.append(i)
    }
    return offsets
  }
}

extension Program {
  /// Adopts `plan`: the arena offsets, the arena size, and the steps' in-place marks and scratch offsets.
  public mutating func adopt(_ plan: MemoryPlan) {
    arenaOffsets = Dictionary(uniqueKeysWithValues: plan.allocations.map { ($0.buffer, $0.offset) })
    arenaFloats = plan.arenaFloats
    let scratchOffsets = Dictionary(uniqueKeysWithValues: plan.scratch.map { ($0.step, $0.offset) })
    for i in steps.indices {
      steps[i].inPlace = plan.inPlaceSteps.contains(steps[i].index)
      steps[i].scratchOffset = scratchOffsets[steps[i].index]
    }
  }

  /// Plans the arena (buffers and the steps' `scratchFloats`) with every heuristic and adopts the smallest plan.
  public mutating func planMemory() { adopt(MemoryPlanner.plan(self)) }

  /// Sets each step's scratch requirement (`floats[i]` for `steps[i]`, in floats) and plans the arena again.
  /// Throws when the counts disagree or a requirement is negative.
  public mutating func planMemory(scratchFloats floats: [Int]) throws {
    guard floats.count == steps.count else {
      throw LoweringError(
        description: "\(floats.count) scratch requirements given for the \(steps.count) steps of '\(name)'")
    }
    if let i = floats.firstIndex(where: { $0 < 0 }) {
      throw LoweringError(
        description: "step \(steps[i].kernelName) of '\(name)' asks for \(floats[i]) floats of scratch")
    }
    for i in steps.indices { steps[i].scratchFloats = floats[i] }
    planMemory()
  }
}
