// A textual dump of the IR, one node per line, for --print-after and pass fixtures.

extension Graph {
  /// `%3 = conv c1 (%0) filters: 6 … : f32[6, 28, 28]`, one line per node, then the outputs.
  public func dump() -> String {
    var lines = ["graph \(name) {"]
    for n in nodes {
      let ins = n.inputs.map { "\($0)" }.joined(separator: ", ")
      var line = "  \(n.id) = \(n.op.name) \(n.name)(\(ins))"
      let attrs = n.op.attributeSummary
      if !attrs.isEmpty { line += " {\(attrs)}" }
      if let t = n.type { line += " : \(t)" }
      if !n.absorbed.isEmpty { line += "  // absorbed: \(n.absorbed.joined(separator: ", "))" }
      lines.append(line)
    }
    for o in outputs { lines.append("  output \(o.name) = \(o.node)") }
    lines.append("}")
    return lines.joined(separator: "\n")
  }
}

extension Op {
  /// The attributes in spec syntax, e.g. `filters: 6, kernel: 5, padding: 2, activation: relu`.
  public var attributeSummary: String {
    var a: [String] = []
    func act(_ x: Activation) { if x != .identity { a.append("activation: \(x)") } }
    func epilogue(_ e: [EpilogueOp]) {
      if !e.isEmpty { a.append("epilogue: [\(e.map(\.description).joined(separator: ", "))]") }
    }
    func window(_ k: Pair, _ s: Pair, _ p: Padding, _ r: Rounding, defaultStride: Pair) {
      a.append("kernel: \(k)")
      if s != defaultStride { a.append("stride: \(s)") }
      if p != .explicit(Pads(0)) { a.append("padding: \(p)") }
      if r != .exact { a.append("rounding: \(r.rawValue)") }
    }
    switch self {
    case .input(let i):
      a.append("\(i.type)")
      if i.role == .target { a.append("target") }
    case .dense(let d):
      a.append("units: \(d.units)")
      if !d.bias { a.append("bias: false") }
      act(d.activation)
      if let f = d.foldedBatchNorm { a.append(f.summary) }
      epilogue(d.epilogue)
    case .conv2d(let c):
      a.append("filters: \(c.filters)")
      window(c.kernel, c.stride, c.padding, c.rounding, defaultStride: Pair(1))
      if c.dilation != Pair(1) { a.append("dilation: \(c.dilation)") }
      if c.groups != 1 { a.append("groups: \(c.groups)") }
      if !c.bias { a.append("bias: false") }
      act(c.activation)
      if let f = c.foldedBatchNorm { a.append(f.summary) }
      epilogue(c.epilogue)
    case .maxPool(let p):
      window(p.kernel, p.stride, p.padding, p.rounding, defaultStride: p.kernel)
    case .avgPool(let p):
      window(p.kernel, p.stride, p.padding, p.rounding, defaultStride: p.kernel)
      if !p.countIncludePad { a.append("count_include_pad: false") }
    case .reshape(let dims): a.append("shape: [\(dims.map(String.init).joined(separator: ", "))]")
    case .batchNorm(let b):
      if b.epsilon != 1e-5 { a.append("epsilon: \(formatNumber(b.epsilon))") }
      if b.momentum != 0.1 { a.append("momentum: \(formatNumber(b.momentum))") }
    case .dropout(let r): a.append("rate: \(formatNumber(r))")
    case .lrn(let l):
      a.append("size: \(l.size), alpha: \(formatNumber(l.alpha)), beta: \(formatNumber(l.beta)), k: \(formatNumber(l.k))")
    case .activation(let x):
      switch x {
      case .leakyRelu(let al), .elu(let al): a.append("alpha: \(formatNumber(al))")
      default: break
      }
    case .gradient(let g):
      a.append("of: \(g.forward.name) \(g.forwardName), wrt: \(g.target)")
      a.append("operands: [\(g.operands.map(\.description).joined(separator: ", "))]")
    case .optimizerStep(let s):
      a.append("\(s.optimizer.name) \(s.parameter)")
    case .globalAvgPool, .flatten, .concat, .add, .mul, .loss: break
    }
    return a.joined(separator: ", ")
  }
}

extension FoldedBatchNorm {
  /// `folded_batchnorm: bn (epsilon: 0.001, source_bias: false)`, the defaults left out.
  var summary: String {
    var extras: [String] = []
    if epsilon != 1e-5 { extras.append("epsilon: \(formatNumber(epsilon))") }
    if !sourceBias { extras.append("source_bias: false") }
    return "folded_batchnorm: \(name)" + (extras.isEmpty ? "" : " (\(extras.joined(separator: ", ")))")
  }
}
