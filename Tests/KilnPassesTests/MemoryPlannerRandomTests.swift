// The planner over thousands of seeded random graphs with random kernel scratch, each plan checked independently.
import KilnIR
import KilnPasses
import KilnTestSupport
import Testing

@Suite struct MemoryPlannerRandomTests {
  /// A random DAG of convs, activations, adds, muls, concats, pools, batch norms and dropouts over one image
  /// input, with one to three outputs (sometimes the input itself, which lowering copies).
  static func randomGraph(seed: UInt64) -> Graph {
    var rng = SeededRandom(seed: seed)
    var g = Graph(name: "random\(seed)")
    let image = [
      Int.random(in: 1...4, using: &rng), Int.random(in: 2...9, using: &rng), Int.random(in: 2...9, using: &rng),
    ]
    let x = g.add("x", .input(Input(type: TensorType(.f32, image))))
    var shapes: [(id: NodeID, dims: [Int])] = [(x, image)]
    for k in 0..<Int.random(in: 1...14, using: &rng) {
      let (src, dims) = shapes.randomElement(using: &rng)!
      let name = "n\(k)"
      let partners = shapes.filter { $0.id != src && $0.dims == dims }
      let concatPartners = shapes.filter { $0.dims.dropFirst() == dims.dropFirst() }
      var node: (Op, [NodeID], [Int])
      switch Int.random(in: 0..<9, using: &rng) {
      case 0, 1:
        let filters = Int.random(in: 1...6, using: &rng)
        let act = [Activation.identity, .relu, .tanh, .softmax].randomElement(using: &rng)!
        let kernel = Pair([1, 3].randomElement(using: &rng)!)
        node = (
          .conv2d(Conv2D(filters: filters, kernel: kernel, padding: .same, activation: act)), [src],
          [filters] + dims.dropFirst()
        )
      case 2 where !partners.isEmpty:
        node = (.add, [src, partners.randomElement(using: &rng)!.id], dims)
      case 3 where !partners.isEmpty || Bool.random(using: &rng):
        // mul also of a value by itself: both inputs are one buffer.
        node = (.mul, [src, partners.randomElement(using: &rng)?.id ?? src], dims)
      case 4:
        let other = concatPartners.randomElement(using: &rng)!
        node = (.concat, [src, other.id], [dims[0] + other.dims[0]] + dims.dropFirst())
      case 5 where dims[1] >= 2 && dims[2] >= 2:
        node = (.maxPool(Pool(kernel: Pair(2), rounding: .floor)), [src], [dims[0], dims[1] / 2, dims[2] / 2])
      case 6:
        node = (.batchNorm(BatchNorm()), [src], dims)
      case 7:
        node = (.dropout(rate: 0.25), [src], dims)
      default:
        node = (.activation([Activation.relu, .sigmoid, .tanh].randomElement(using: &rng)!), [src], dims)
      }
      shapes.append((g.add(name, node.0, inputs: node.1), node.2))
    }
    var outputs = [shapes.last!.id]
    if Bool.random(using: &rng) { outputs.append(shapes.randomElement(using: &rng)!.id) }
    if Int.random(in: 0..<4, using: &rng) == 0 { outputs.append(x) }
    g.outputs = outputs.enumerated().map { GraphOutput(name: "out\($0)", node: $1) }
    return g
  }

  @Test func everyRandomPlanIsValidAndNoWorseThanNoSharing() throws {
    var inPlace = 0
    var shared = 0
    var caught = 0
    var scratchCaught = 0
    for seed in UInt64(0)..<2500 {
      var g = Self.randomGraph(seed: seed)
      let diagnostics = ShapeInference().run(on: &g)
      try #require(diagnostics.isEmpty, "seed \(seed): \(diagnostics)")
      var p = try Lowering.lower(g, maxBatch: Int(seed % 4) + 1)
      // Random transient scratch, as kernels ask for it: about half the steps, 1 to 300 floats each.
      var rng = SeededRandom(seed: seed &+ 0x5C7A)
      let scratch = p.steps.map { _ in Bool.random(using: &rng) ? Int.random(in: 1...300, using: &rng) : 0 }
      try p.planMemory(scratchFloats: scratch)
      let found = PlanValidator.violations(in: p)
      try #require(found.isEmpty, "seed \(seed): \(found)")
      let plan = MemoryPlanner.plan(p)
      #expect(plan.arenaFloats == p.arenaFloats)
      #expect(plan.lowerBoundFloats <= plan.arenaFloats && plan.arenaFloats <= plan.noSharingFloats, "seed \(seed)")
      inPlace += p.steps.filter(\.inPlace).count
      if plan.arenaFloats < plan.noSharingFloats { shared += 1 }

      // Moving any buffer onto another one live beside it must be caught.
      let lifetimes = Liveness.lifetimes(of: p)
      let live = lifetimes.keys.sorted()
      if let (a, b) = live.lazy.flatMap({ a in live.lazy.map { (a, $0) } }).first(where: { a, b in
        a < b && lifetimes[a]!.overlaps(lifetimes[b]!) && p.arenaOffsets[a] != p.arenaOffsets[b]
      }) {
        var broken = p
        broken.arenaOffsets[b] = p.arenaOffsets[a]
        broken.arenaFloats = max(p.arenaFloats, (p.arenaOffsets[a] ?? 0) + p[b].floatsPerSample * p.maxBatch)
        if !PlanValidator.violations(in: broken).isEmpty {
          caught += 1
        } else {
          Issue.record("seed \(seed): \(b) moved onto \(a) was not caught")
        }
      }
      // Moving a step's scratch onto a buffer in use at that step must be caught.
      if let (step, a) = p.steps.lazy.filter({ $0.scratchFloats > 0 }).compactMap({ step in
        live.first { lifetimes[$0]!.contains(step.index) }.map { (step, $0) }
      }).first {
        var broken = p
        let i = try #require(broken.steps.firstIndex { $0.index == step.index })
        broken.steps[i].scratchOffset = p.arenaOffsets[a]
        broken.arenaFloats = max(p.arenaFloats, (p.arenaOffsets[a] ?? 0) + step.scratchFloats)
        if !PlanValidator.violations(in: broken).isEmpty {
          scratchCaught += 1
        } else {
          Issue.record("seed \(seed): scratch of step \(step.index) moved onto \(a) was not caught")
        }
      }
    }
    // The corpus exercises what it is meant to: in-place steps, sharing, and corrupted plans.
    #expect(inPlace > 1000 && shared > 1000 && caught > 1000, "in place \(inPlace), shared \(shared), caught \(caught)")
    #expect(scratchCaught > 1000, "scratch moved and caught \(scratchCaught)")
  }
}
