// The interpreter's evaluation of the nodes autodiff appends: gradient nodes and (no-op) optimizer steps.
import KilnIR

extension Interpreter {
  /// The type of a gradient or optimizer-step node, checked against its operands' types.
  static func autodiffType(of node: Node, inputTypes: [TensorType]) throws -> TensorType? {
    switch node.op {
    case .gradient(let g):
      guard g.operands.count == inputTypes.count else {
        throw ReferenceError("has \(inputTypes.count) inputs for \(g.operands.count) operands")
      }
      for (role, t) in zip(g.operands, inputTypes) {
        if case .forwardInput(let k) = role, g.forwardInputTypes.indices.contains(k), g.forwardInputTypes[k] != t {
          throw ReferenceError("operand \(role) has type \(t); expected \(g.forwardInputTypes[k])")
        }
      }
      guard let type = g.resultType else {
        throw ReferenceError("\(g.forward.name) '\(g.forwardName)' has no \(g.target) to differentiate")
      }
      return type
    case .optimizerStep(let s):
      guard inputTypes.count == 1, inputTypes[0].dims == s.dims, !inputTypes[0].batched else {
        throw ReferenceError("the gradient of '\(s.parameter)' has type \(inputTypes.first.map { "\($0)" } ?? "none"); expected f32\(s.dims) unbatched")
      }
      return TensorType.empty
    default:
      return nil
    }
  }

  /// Evaluates a gradient node from its operands, in Float (each VJP converts to Double, computes, rounds
  /// once), or an optimizer step as nothing: `trainStep` applies the updates after the whole graph ran.
  func evaluateAutodiff(_ node: Node, operands: [AnyTensor], mode: Mode) throws -> Tensor? {
    switch node.op {
    case .gradient(let g):
      return try evaluateGradient(g, operands: operands, mode: mode)
    case .optimizerStep:
      return Tensor(shape: [0], data: [])
    default:
      return nil
    }
  }

  private func evaluateGradient(_ g: Gradient, operands: [AnyTensor], mode: Mode) throws -> Tensor {
    func value(_ role: GradientOperand) throws -> AnyTensor {
      guard let k = g.index(of: role) else { throw ReferenceError("has no operand \(role)") }
      return operands[k]
    }
    func f32(_ role: GradientOperand) throws -> Tensor {
      guard case .f32(let t) = try value(role) else { throw ReferenceError("operand \(role) is i64; expected f32") }
      return t
    }
    func parameter(_ suffix: String) throws -> Tensor {
      guard let t = parameters["\(g.forwardName).\(suffix)"] else {
        throw ReferenceError("missing parameter '\(g.forwardName).\(suffix)'")
      }
      return t
    }
    /// A forward input the rule does not read (its value does not enter the result): zeros of its shape.
    func unread(_ k: Int, batch: Int) -> Tensor { Tensor(zeros: g.forwardInputTypes[k].shape(batch: batch)) }
    func pick(_ t: Tensor?) throws -> Tensor {
      guard let t else { throw ReferenceError("\(g.forward.name) '\(g.forwardName)' has no \(g.target)") }
      return t
    }
    let dy = g.index(of: .outputGradient) != nil ? try f32(.outputGradient) : nil
    let batch = dy?.shape.first ?? 0
    let inputShapes = g.forwardInputTypes.map { $0.shape(batch: batch) }

    switch g.forward {
    case .dense(let d):
      guard d.activation == .identity, d.epilogue.isEmpty else {
        throw ReferenceError("dense '\(g.forwardName)' has a fused activation; autodiff splits it off first")
      }
      let x = g.index(of: .forwardInput(0)) != nil ? try f32(.forwardInput(0)) : unread(0, batch: batch)
      let bias = d.bias ? try parameter("bias") : nil
      let r = try ReferenceGradients.dense(dy: try pick(dy), x: x, weight: parameter("weight"), bias: bias)
      return try select(r.dx, r.dWeight, r.dBias, g.target)
    case .conv2d(let c):
      guard c.activation == .identity, c.epilogue.isEmpty else {
        throw ReferenceError("conv '\(g.forwardName)' has a fused activation; autodiff splits it off first")
      }
      let x = g.index(of: .forwardInput(0)) != nil ? try f32(.forwardInput(0)) : unread(0, batch: batch)
      let bias = c.bias ? try parameter("bias") : nil
      let r = try ReferenceGradients.conv2d(dy: try pick(dy), x: x, weight: parameter("weight"), bias: bias, c)
      return try select(r.dx, r.dWeight, r.dBias, g.target)
    case .maxPool(let p):
      return try ReferenceGradients.maxPool(dy: try pick(dy), x: f32(.forwardInput(0)), p)
    case .avgPool(let p):
      return try ReferenceGradients.avgPool(dy: try pick(dy), inputShape: inputShapes[0], p)
    case .globalAvgPool:
      return try ReferenceGradients.globalAvgPool(dy: try pick(dy), inputShape: inputShapes[0])
    case .flatten, .reshape:
      return try ReferenceGradients.reshape(dy: try pick(dy), inputShape: inputShapes[0])
    case .concat:
      guard case .input(let k) = g.target else { throw ReferenceError("concat has no parameters") }
      return try ReferenceGradients.concat(dy: try pick(dy), inputShapes: inputShapes)[k]
    case .add:
      return try pick(dy)
    case .mul:
      guard case .input(let k) = g.target else { throw ReferenceError("mul has no parameters") }
      // d(a·b)/da = b·dy and d(a·b)/db = a·dy: the rule reads only the OTHER operand.
      let a = g.index(of: .forwardInput(0)) != nil ? try f32(.forwardInput(0)) : unread(0, batch: batch)
      let b = g.index(of: .forwardInput(1)) != nil ? try f32(.forwardInput(1)) : unread(1, batch: batch)
      let r = try ReferenceGradients.mul(dy: try pick(dy), a: a, b: b)
      return k == 0 ? r.da : r.db
    case .batchNorm(let b):
      // dβ = Σ dy does not read x (autodiff gives that rule dy alone).
      let x = g.index(of: .forwardInput(0)) != nil ? try f32(.forwardInput(0)) : unread(0, batch: batch)
      let r = try ReferenceGradients.batchNormTraining(dy: try pick(dy), x: x, weight: parameter("weight"), b)
      return try select(r.dx, r.dWeight, r.dBias, g.target)
    case .dropout(let rate):
      guard case .training(let seed) = mode else {
        throw ReferenceError("the gradient of dropout '\(g.forwardName)' needs training mode (its mask)")
      }
      return try ReferenceGradients.dropout(
        dy: try pick(dy), rate: rate, seed: seed, stream: CounterRandom.stream(named: g.forwardName))
    case .lrn(let l):
      return try ReferenceGradients.lrn(dy: try pick(dy), x: f32(.forwardInput(0)), l)
    case .activation(let a):
      if g.index(of: .forwardOutput) != nil {
        return try ReferenceGradients.activation(dy: try pick(dy), y: f32(.forwardOutput), a)
      }
      return try ReferenceGradients.activation(dy: try pick(dy), x: f32(.forwardInput(0)), a)
    case .loss(let kind):
      return try ReferenceGradients.loss(kind, prediction: f32(.forwardInput(0)), target: value(.forwardInput(1)))
    case .input, .gradient, .optimizerStep:
      throw ReferenceError("\(g.forward.name) has no gradient")
    }
  }

  private func select(_ dx: Tensor, _ dWeight: Tensor, _ dBias: Tensor?, _ target: Gradient.Target) throws -> Tensor {
    switch target {
    case .input(0): return dx
    case .parameter(.weight): return dWeight
    case .parameter(.bias):
      guard let dBias else { throw ReferenceError("the layer has no bias") }
      return dBias
    default: throw ReferenceError("there is no gradient toward \(target)")
    }
  }
}
