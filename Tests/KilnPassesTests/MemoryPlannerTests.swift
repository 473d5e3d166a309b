// The memory planner on small hand-made programs, and the validator catching layouts that are wrong.
import KilnIR
import Testing

@testable import KilnPasses

@Suite struct MemoryPlannerTests {
  func lowered(_ g: Graph, batch: Int = 1) throws -> Program {
    var g = g
    #expect(ShapeInference().run(on: &g).isEmpty)
    return try Lowering.lower(g, maxBatch: batch)
  }

  /// x → conv c1 → relu r1 → conv c2 → add(c2, r1) → bn → conv c3 → output: a residual block.
  func residual() -> Graph {
    var g = Graph(name: "res")
    let x = g.add("x", .input(Input(type: TensorType(.f32, [2, 4, 4]))))
    let c1 = g.add("c1", .conv2d(Conv2D(filters: 4, kernel: Pair(3), padding: .same)), inputs: [x])
    let r1 = g.add("r1", .activation(.relu), inputs: [c1])
    let c2 = g.add("c2", .conv2d(Conv2D(filters: 4, kernel: Pair(3), padding: .same)), inputs: [r1])
    let s = g.add("s", .add, inputs: [c2, r1])
    let bn = g.add("bn", .batchNorm(BatchNorm()), inputs: [s])
    let c3 = g.add("c3", .conv2d(Conv2D(filters: 2, kernel: Pair(1))), inputs: [bn])
    g.outputs = [GraphOutput(name: "y", node: c3)]
    return g
  }

  @Test func elementwiseStepsWorkInPlaceOverInputsThatDie() throws {
    let p = try lowered(residual())
    let plan = MemoryPlanner.plan(p)
    // c1 → r1 in place (c1 dies at the relu); r1 lives on to the add, so c2 cannot take its place;
    // the add writes over c2 (dies there; r1 also dies there but c2 comes first); bn over the sum.
    #expect(p.steps.map(\.inPlace) == [false, true, false, true, true, false])
    let byName = Dictionary(uniqueKeysWithValues: plan.allocations.map { (p[$0.buffer].name, $0) })
    #expect(byName["r1"]?.inPlaceOf.map { p[$0].name } == "c1")
    #expect(byName["s"]?.inPlaceOf.map { p[$0].name } == "c2")
    #expect(byName["bn"]?.inPlaceOf.map { p[$0].name } == "s")
    #expect(byName["c1"]?.offset == byName["r1"]?.offset)
    #expect(byName["bn"]?.offset == byName["c2"]?.offset)
    #expect(byName["r1"]?.lifetime == Lifetime(first: 2, last: 4))
    // Two chains of 64 floats (4 × 4 × 4 per sample) are live at once at most: c1→r1 and c2→s→bn at steps 3–4.
    #expect(plan.lowerBoundFloats == 128 && plan.arenaFloats == 128 && plan.noSharingFloats == 5 * 64)
    #expect(p.arenaFloats == 128)
    #expect(PlanValidator.violations(in: p).isEmpty)
  }

  @Test func callerBuffersAreNeverPlannedOrAliased() throws {
    var g = Graph(name: "t")
    let x = g.add("x", .input(Input(type: TensorType(.f32, [5]))))
    let r = g.add("r", .activation(.relu), inputs: [x])
    let t = g.add("t", .activation(.tanh), inputs: [r])
    g.outputs = [GraphOutput(name: "y", node: t)]
    let p = try lowered(g)
    // The relu reads the caller's input and the tanh writes the caller's output: neither may work in place.
    #expect(p.steps.map(\.inPlace) == [false, false])
    #expect(p.arenaOffsets.keys.map { p[$0].name } == ["r"])
    #expect(p.arenaFloats == 16)
  }

  @Test func unreadBuffersLiveAtTheirProducer() throws {
    var g = Graph(name: "t")
    let x = g.add("x", .input(Input(type: TensorType(.f32, [20]))))
    let a = g.add("a", .dense(Dense(units: 20)), inputs: [x])
    g.add("unused", .dense(Dense(units: 40)), inputs: [a])
    let b = g.add("b", .dense(Dense(units: 20)), inputs: [a])
    g.outputs = [GraphOutput(name: "y", node: b)]
    let p = try lowered(g, batch: 2)
    let plan = MemoryPlanner.plan(p)
    let unused = try #require(plan.allocations.first { p[$0.buffer].name == "unused" })
    #expect(unused.lifetime == Lifetime(first: 2, last: 2))
    #expect(unused.floats == 80)
    // a (48 floats at batch 2) lives over steps 1–3 beside the unread 80: 128 at most.
    #expect(plan.lowerBoundFloats == 128 && plan.arenaFloats == 128)
  }

  @Test func laterValuesReuseFreedSpace() throws {
    // Sizes at batch 1: a 64, b 16, c 80, d 16. a and b die at c, so d takes a's place beside c.
    var g = Graph(name: "t")
    let x = g.add("x", .input(Input(type: TensorType(.f32, [4]))))
    let a = g.add("a", .dense(Dense(units: 64)), inputs: [x])
    let b = g.add("b", .dense(Dense(units: 16)), inputs: [x])
    let c = g.add("c", .concat, inputs: [a, b])
    let d = g.add("d", .dense(Dense(units: 16)), inputs: [c])
    let e = g.add("e", .concat, inputs: [c, d])
    g.outputs = [GraphOutput(name: "y", node: e)]
    let p = try lowered(g)
    let plan = MemoryPlanner.plan(p)
    #expect(plan.lowerBoundFloats == 160 && plan.arenaFloats == 160 && plan.noSharingFloats == 176)
    #expect(plan.allocation(of: Self.buffer(p, "d"))?.offset == plan.allocation(of: Self.buffer(p, "a"))?.offset)
    #expect(plan.trials.allSatisfy { $0.arenaFloats >= plan.arenaFloats })
    #expect(plan.trials.first { $0.arenaFloats == plan.arenaFloats }?.heuristic == plan.heuristic)
  }

  @Test func bestFitTakesTheSmallestGapThatHolds() {
    func slot(_ i: Int, _ floats: Int, _ first: Int, _ last: Int) -> MemoryPlanner.Slot {
      MemoryPlanner.Slot(
        members: [BufferID(i)], lifetime: Lifetime(first: first, last: last), floats: floats, key: i)
    }
    // The first four stack up; the 16 then fits the 32-float gap at 0 (not the 64 at 48), the 48 the 64-float gap,
    // and the 80 fits no gap, so it goes on top.
    let slots = [
      slot(0, 32, 1, 2), slot(1, 16, 1, 9), slot(2, 64, 1, 2), slot(3, 16, 1, 9),
      slot(4, 16, 5, 9), slot(5, 48, 5, 9), slot(6, 80, 5, 9),
    ]
    #expect(MemoryPlanner.place(slots, in: Array(0..<7)) == [0, 32, 48, 112, 0, 48, 128])
  }

  /// The residual block with scratch: 100 floats at c1 (step 1), 40 at c2 (step 3), 8 at c3 (step 6).
  func residualWithScratch() throws -> Program {
    var p = try lowered(residual())
    try p.planMemory(scratchFloats: [100, 0, 40, 0, 0, 8])
    return p
  }

  @Test func scratchIsPlannedAsATransientBufferOfItsStep() throws {
    let p = try residualWithScratch()
    let plan = MemoryPlanner.plan(p)
    #expect(plan.scratch.map(\.step) == [1, 3, 6])
    #expect(plan.scratch.map(\.floats) == [112, 48, 16])
    let offsets = plan.scratch.map(\.offset)
    #expect(p.steps.map(\.scratchOffset) == [offsets[0], nil, offsets[1], nil, nil, offsets[2]])
    // Peak: step 1 holds c1 (64) and its scratch (112); step 3 holds r1 and c2 (64 each) and 48 of scratch.
    #expect(plan.lowerBoundFloats == 176 && plan.arenaFloats == 176)
    #expect(plan.noSharingFloats == 5 * 64 + 112 + 48 + 16)
    #expect(p.arenaFloats == 176)
    #expect(PlanValidator.violations(in: p).isEmpty)
    // Scratch is reused: c3's scratch (step 6) sits in bytes that c1's scratch held at step 1.
    #expect(offsets[2] < offsets[0] + 112 && offsets[0] < offsets[2] + 16)
  }

  @Test func scratchRequirementsAreChecked() throws {
    var p = try lowered(residual())
    #expect(throws: LoweringError.self) { try p.planMemory(scratchFloats: [1, 2]) }
    #expect(throws: LoweringError.self) { try p.planMemory(scratchFloats: [0, 0, -1, 0, 0, 0]) }
    // Planning again with no scratch gives back the plan lowering made.
    let before = p
    try p.planMemory(scratchFloats: [0, 0, 0, 0, 0, 0])
    #expect(p == before)
  }

  @Test func planningIsDeterministicAndIgnoresAnEarlierPlan() throws {
    let p = try lowered(residual(), batch: 3)
    let again = MemoryPlanner.plan(p)
    var scrambled = p
    scrambled.arenaOffsets = [:]
    scrambled.arenaFloats = 0
    for i in scrambled.steps.indices { scrambled.steps[i].inPlace.toggle() }
    #expect(MemoryPlanner.plan(scrambled) == again)
    for h in MemoryPlanner.Heuristic.allCases {
      #expect(MemoryPlanner.plan(p, heuristics: [h]) == MemoryPlanner.plan(p, heuristics: [h]))
    }
  }

  // MARK: The validator rejects bad layouts.

  struct Corruption: Sendable, CustomTestStringConvertible {
    var testDescription: String
    /// Which message the validator must give.
    var expected: String
    var corrupt: @Sendable (inout Program) -> Void
  }

  static let corruptions: [Corruption] = [
    Corruption(testDescription: "two live buffers share a region", expected: "while both are live") { p in
      // r1 (steps 2–4) and c2 (steps 3–4).
      p.arenaOffsets[buffer(p, "c2")] = p.arenaOffsets[buffer(p, "r1")]
    },
    Corruption(testDescription: "misaligned offset", expected: "not 64-byte aligned") { p in
      p.arenaOffsets[buffer(p, "c2")] = (p.arenaOffsets[buffer(p, "c2")] ?? 0) + 4
      p.arenaFloats += 16
    },
    Corruption(testDescription: "past the arena", expected: "past the arena") { p in p.arenaFloats -= 16 },
    Corruption(testDescription: "no offset", expected: "has no arena offset") { p in
      p.arenaOffsets[buffer(p, "c2")] = nil
    },
    Corruption(testDescription: "in place, shifted by one line", expected: "while both are live") { p in
      p.arenaOffsets[buffer(p, "r1")] = (p.arenaOffsets[buffer(p, "r1")] ?? 0) + 16
      p.arenaFloats += 16
    },
    Corruption(testDescription: "in-place pair without the mark", expected: "while both are live") { p in
      p.steps[1].inPlace = false
    },
    Corruption(testDescription: "in-place mark on a conv", expected: "is not elementwise") { p in
      p.steps[0].inPlace = true
    },
    Corruption(testDescription: "in-place mark with no shared region", expected: "shares no input's region") { p in
      p.arenaOffsets[buffer(p, "r1")] = p.arenaFloats
      p.arenaFloats += 64
    },
    Corruption(testDescription: "a caller buffer in the arena", expected: "belongs to the caller") { p in
      p.arenaOffsets[p.outputs[0].buffer] = 0
    },
    Corruption(testDescription: "scratch over its step's input", expected: "which is live at that step") { p in
      // c2 (step 3) reads r1.
      p.steps[2].scratchOffset = p.arenaOffsets[buffer(p, "r1")]
    },
    Corruption(testDescription: "scratch over its step's output", expected: "which is live at that step") { p in
      p.steps[0].scratchOffset = p.arenaOffsets[buffer(p, "c1")]
    },
    Corruption(testDescription: "scratch without an offset", expected: "scratch of 100 floats has no arena offset") {
      p in p.steps[0].scratchOffset = nil
    },
    Corruption(testDescription: "scratch misaligned", expected: "scratch offset") { p in
      p.steps[5].scratchOffset = p.arenaFloats + 4
      p.arenaFloats += 32
    },
    Corruption(testDescription: "scratch past the arena", expected: "past the arena") { p in
      p.steps[5].scratchOffset = p.arenaFloats
    },
  ]

  /// The buffer holding value `name` (an id no buffer has when there is none).
  static func buffer(_ p: Program, _ name: String) -> BufferID {
    p.buffers.first { $0.name == name }?.id ?? BufferID(-1)
  }

  @Test(arguments: corruptions) func validatorCatches(_ c: Corruption) throws {
    var p = try residualWithScratch()
    try PlanValidator.validate(p)
    c.corrupt(&p)
    let found = PlanValidator.violations(in: p)
    #expect(found.contains { $0.contains(c.expected) }, "\(found)")
    #expect(throws: PlanValidationError.self) { try PlanValidator.validate(p) }
  }
}
