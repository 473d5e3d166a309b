// fold-batchnorm: an inference batch norm right after a conv or dense layer becomes that layer's weight and bias.
import KilnIR

/// Folds each inference-mode batch norm into the conv or dense layer it reads, when that is legal.
///
/// At inference a batch norm is an affine map per channel c, so it composes with the layer before it:
///
///     y_c  = (z_c − μ_c) · γ_c / √(σ²_c + ε) + β_c,      z_c = W_c · x + b_c
///          = (W_c · s_c) · x + ((b_c − μ_c) · s_c + β_c),  s_c = γ_c / √(σ²_c + ε)
///
/// so `W'_c = W_c · s_c` (every weight of output channel c) and `b'_c = (b_c − μ_c) · s_c + β_c`, with
/// b = 0 for a layer without bias. `ParameterPreparation` (Swift) and the module's `<name>_prepare` (C)
/// compute this in Double from the unfolded tensors, which stay what weight files hold.
///
/// Legal only when:
/// - the mode is inference (training normalizes with batch statistics, which are not constants);
/// - the batch norm reads a conv or dense layer whose fused activation is the identity (BN(relu(z)) is not
///   affine in z), which has not absorbed a batch norm already;
/// - the batch norm is the layer's only reader and the layer's value is not an output (or the training
///   prediction): otherwise someone still needs the unnormalized value, and the batch norm keeps its kernel.
///
/// The layer keeps its name (so its parameters keep theirs), gains a bias, and records the batch norm in
/// `foldedBatchNorm`; the batch norm disappears and its readers and outputs read the layer.
public struct FoldBatchNorm: GraphPass {
  /// The pass's registered name.
  public static let passName = "fold-batchnorm"
  public let name = FoldBatchNorm.passName
  /// Folding is only legal at inference.
  public var mode: PipelineMode

  /// A pass for `mode`.
  public init(mode: PipelineMode = .inference) { self.mode = mode }

  public func run(on graph: inout Graph) -> [Diagnostic] {
    guard mode == .inference else { return [] }
    // NOTE: rewrites go to a copy, so a failed removal leaves the graph exactly as it was.
    var folded = graph
    let consumers = graph.consumers()
    var kept = Set(graph.outputs.map(\.node))
    if let prediction = graph.training?.prediction { kept.insert(prediction) }
    var forwarded: [NodeID: NodeID] = [:]
    for bn in graph.nodes {
      guard case .batchNorm(let norm) = bn.op, bn.inputs.count == 1 else { continue }
      let layerID = bn.inputs[0]
      guard consumers[layerID] == [bn.id], !kept.contains(layerID) else { continue }
      let fold = { (sourceBias: Bool) in
        FoldedBatchNorm(name: bn.name, epsilon: norm.epsilon, sourceBias: sourceBias)
      }
      switch graph[layerID].op {
      case .conv2d(var c):
        guard c.activation == .identity, c.foldedBatchNorm == nil, c.epilogue.isEmpty else { continue }
        c.foldedBatchNorm = fold(c.bias)
        c.bias = true
        folded[layerID].op = .conv2d(c)
      case .dense(var d):
        guard d.activation == .identity, d.foldedBatchNorm == nil, d.epilogue.isEmpty else { continue }
        d.foldedBatchNorm = fold(d.bias)
        d.bias = true
        folded[layerID].op = .dense(d)
      default:
        continue
      }
      folded[layerID].absorbed.append(bn.name)
      forwarded[bn.id] = layerID
    }
    guard !forwarded.isEmpty else { return [] }
    let problems = folded.removeNodes(dropping: [], forwarding: forwarded, pass: name)
    if problems.isEmpty { graph = folded }
    return problems
  }
}
