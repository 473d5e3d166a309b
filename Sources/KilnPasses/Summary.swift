// The layer-by-layer summary `kiln check` prints: shapes, parameters, multiply-accumulates, memory.
import KilnIR

/// One row of the summary: a node of the (shape-inferred) graph.
public struct LayerSummary: Codable, Hashable, Sendable {
  public var name: String
  public var op: String
  /// Attributes in spec syntax, e.g. `filters: 6, kernel: 5, padding: 2`.
  public var attributes: String
  /// Per-sample output dimensions.
  public var shape: [Int]
  /// Trainable parameters (weights and biases).
  public var parameters: Int
  /// Non-trainable buffers (batch-norm running statistics).
  public var buffers: Int
  /// Multiply-accumulates per sample (dense and conv; 0 for the rest).
  public var macs: Int
}

/// Totals and per-layer rows for a network.
public struct NetworkSummary: Codable, Hashable, Sendable {
  public var network: String
  public var layers: [LayerSummary]
  public var outputs: [String: [Int]]
  public var totalParameters: Int
  /// Of the trainable parameters: weights (conv, dense, batch-norm γ) and biases (including batch-norm β).
  public var totalWeights: Int
  public var totalBiases: Int
  public var totalBuffers: Int
  public var totalMACs: Int
  /// Bytes of parameters and buffers (float32).
  public var weightBytes: Int
  /// Bytes of every value at batch 1, summed: what a plan without sharing would need.
  public var activationBytes: Int
  /// Bytes live at once at batch 1 in node order: the lower bound any memory plan must meet.
  public var peakActivationBytes: Int

  /// Summarizes a graph whose shapes have been inferred. The loss node and targets are left out of the
  /// activation figures: they exist only in training.
  public init(_ g: Graph) {
    network = g.name
    var rows: [LayerSummary] = []
    for n in g.nodes {
      if case .input(let inp) = n.op, inp.role == .target { continue }
      if case .loss = n.op { continue }
      let ins = n.inputs.compactMap { g[$0].type }
      let params = n.parameters(inputTypes: ins)
      rows.append(
        LayerSummary(
          name: n.name, op: n.op.name, attributes: n.op.attributeSummary, shape: n.type?.dims ?? [],
          parameters: params.filter(\.isTrainable).map(\.elementCount).reduce(0, +),
          buffers: params.filter { !$0.isTrainable }.map(\.elementCount).reduce(0, +),
          macs: Self.macs(n, ins)))
    }
    layers = rows
    outputs = Dictionary(uniqueKeysWithValues: g.outputs.map { ($0.name, g[$0.node].type?.dims ?? []) })
    totalParameters = rows.map(\.parameters).reduce(0, +)
    totalBuffers = rows.map(\.buffers).reduce(0, +)
    let specs = g.parameters()
    totalWeights = specs.filter { $0.kind == .weight }.map(\.elementCount).reduce(0, +)
    totalBiases = specs.filter { $0.kind == .bias }.map(\.elementCount).reduce(0, +)
    totalMACs = rows.map(\.macs).reduce(0, +)
    weightBytes = (totalParameters + totalBuffers) * 4
    activationBytes = rows.map { $0.shape.reduce(1, *) * 4 }.reduce(0, +)
    peakActivationBytes = Self.peakLiveBytes(g)
  }

  /// Multiply-accumulates per sample of one node.
  static func macs(_ n: Node, _ ins: [TensorType]) -> Int {
    guard let out = n.type else { return 0 }
    switch n.op {
    case .dense(let d): return (ins.first?.elementCount ?? 0) * d.units
    case .conv2d(let c):
      let perOutput = (ins.first?.dims.first ?? 0) / max(c.groups, 1) * c.kernel.h * c.kernel.w
      return out.elementCount * perOutput
    default: return 0
    }
  }

  /// Peak bytes live at once when nodes run in order: a value is live from its node to its last reader
  /// (outputs to the end). Reshapes and flattens are counted as copies here; the memory planner may alias them.
  static func peakLiveBytes(_ g: Graph) -> Int {
    var lastUse: [NodeID: Int] = [:]
    for n in g.nodes {
      if case .loss = n.op { continue }
      for i in n.inputs { lastUse[i] = n.id.index }
    }
    for o in g.outputs { lastUse[o.node] = g.nodes.count }
    var live = 0
    var peak = 0
    var freeAt: [Int: Int] = [:]
    for n in g.nodes {
      if case .loss = n.op { continue }
      if case .input(let inp) = n.op, inp.role == .target { continue }
      let bytes = (n.type?.elementCount ?? 0) * 4
      live += bytes
      peak = max(peak, live)
      freeAt[lastUse[n.id] ?? n.id.index, default: 0] += bytes
      live -= freeAt[n.id.index] ?? 0
      freeAt[n.id.index] = nil
    }
    return peak
  }
}
