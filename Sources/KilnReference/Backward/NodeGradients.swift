// One node's training-mode forward in Double and its vector-Jacobian product, for the whole-graph walk.
import KilnIR

/// What one node's VJP gives: a gradient per operand (nil for a target, which is data) and per trainable
/// parameter, by full parameter name.
struct NodeGradients {
  var operands: [DoubleTensor?]
  var parameters: [(name: String, gradient: DoubleTensor)] = []
}

/// A node's operands and parameters in Double, as the whole-graph forward and backward read them.
struct NodeContext {
  let node: Node
  /// The float operands (nil where the operand is an i64 target).
  let operands: [DoubleTensor?]
  /// The loss target, for loss nodes.
  let target: AnyTensor?
  let parameters: [String: DoubleTensor]
  let seed: UInt64

  func operand(_ k: Int) throws -> DoubleTensor {
    guard let t = operands[k] else { throw ReferenceError("operand \(k) is i64; expected f32") }
    return t
  }

  func parameter(_ suffix: String) throws -> DoubleTensor {
    guard let t = parameters["\(node.name).\(suffix)"] else {
      throw ReferenceError("missing parameter '\(node.name).\(suffix)'")
    }
    return t
  }

  /// The node's training-mode value in Double (a loss gives a [] tensor holding it).
  func forward() throws -> DoubleTensor {
    switch node.op {
    case .input:
      throw ReferenceError("an input node has no operation to evaluate")
    case .gradient, .optimizerStep:
      throw ReferenceError("'\(node.name)' was appended by autodiff; differentiate the forward graph instead")
    case .dense(let d):
      return try DoubleReferenceOps.dense(
        operand(0), weight: parameter("weight"), bias: d.bias ? parameter("bias") : nil, activation: d.activation)
    case .conv2d(let c):
      return try DoubleReferenceOps.conv2d(
        operand(0), weight: parameter("weight"), bias: c.bias ? parameter("bias") : nil, c)
    case .maxPool(let p): return try DoubleReferenceOps.maxPool(operand(0), p)
    case .avgPool(let p): return try DoubleReferenceOps.avgPool(operand(0), p)
    case .globalAvgPool: return try DoubleReferenceOps.globalAvgPool(operand(0))
    case .flatten: return try operand(0).reshaped(Shapes.flatten(input: operand(0).shape))
    case .reshape(let dims): return try operand(0).reshaped(Shapes.reshape(input: operand(0).shape, dims: dims))
    case .concat: return try DoubleReferenceOps.concat(operands.indices.map(operand))
    case .add: return try DoubleReferenceOps.add(operand(0), operand(1))
    case .mul: return try DoubleReferenceOps.mul(operand(0), operand(1))
    case .batchNorm(let b):
      return try DoubleReferenceOps.batchNormTraining(
        operand(0), weight: parameter("weight"), bias: parameter("bias"), b)
    case .dropout(let rate):
      return try DoubleReferenceOps.dropout(
        operand(0), rate: rate, seed: seed, stream: CounterRandom.stream(named: node.name))
    case .lrn(let l): return try DoubleReferenceOps.lrn(operand(0), l)
    case .activation(let a): return try DoubleReferenceOps.activation(operand(0), a)
    case .loss(let kind):
      guard let target else { throw ReferenceError("the loss target was not given") }
      return DoubleTensor(checked: [], [try DoubleReferenceOps.loss(kind, prediction: operand(0), target: target)])
    }
  }

  /// The node's VJP in training mode for the incoming gradient `dy` of its value.
  func backward(_ dy: DoubleTensor) throws -> NodeGradients {
    func named(_ suffix: String, _ g: DoubleTensor?) -> [(name: String, gradient: DoubleTensor)] {
      g.map { [("\(node.name).\(suffix)", $0)] } ?? []
    }
    switch node.op {
    case .input:
      return NodeGradients(operands: [])
    case .gradient, .optimizerStep:
      throw ReferenceError("'\(node.name)' was appended by autodiff; differentiate the forward graph instead")
    case .dense(let d):
      let r = try ReferenceGradients.dense(
        dy: dy, x: operand(0), weight: parameter("weight"), bias: d.bias ? parameter("bias") : nil,
        activation: d.activation)
      return NodeGradients(operands: [r.dx], parameters: named("weight", r.dWeight) + named("bias", r.dBias))
    case .conv2d(let c):
      let r = try ReferenceGradients.conv2d(
        dy: dy, x: operand(0), weight: parameter("weight"), bias: c.bias ? parameter("bias") : nil, c)
      return NodeGradients(operands: [r.dx], parameters: named("weight", r.dWeight) + named("bias", r.dBias))
    case .maxPool(let p):
      return NodeGradients(operands: [try ReferenceGradients.maxPool(dy: dy, x: operand(0), p)])
    case .avgPool(let p):
      return NodeGradients(operands: [try ReferenceGradients.avgPool(dy: dy, inputShape: operand(0).shape, p)])
    case .globalAvgPool:
      return NodeGradients(operands: [try ReferenceGradients.globalAvgPool(dy: dy, inputShape: operand(0).shape)])
    case .flatten, .reshape:
      return NodeGradients(operands: [try ReferenceGradients.reshape(dy: dy, inputShape: operand(0).shape)])
    case .concat:
      let shapes = try operands.indices.map { try operand($0).shape }
      return NodeGradients(operands: try ReferenceGradients.concat(dy: dy, inputShapes: shapes))
    case .add:
      let r = try ReferenceGradients.add(dy: dy, shape: Shapes.elementwise("add", operand(0).shape, operand(1).shape))
      return NodeGradients(operands: [r.da, r.db])
    case .mul:
      let r = try ReferenceGradients.mul(dy: dy, a: operand(0), b: operand(1))
      return NodeGradients(operands: [r.da, r.db])
    case .batchNorm(let b):
      let r = try ReferenceGradients.batchNormTraining(dy: dy, x: operand(0), weight: parameter("weight"), b)
      return NodeGradients(operands: [r.dx], parameters: named("weight", r.dWeight) + named("bias", r.dBias))
    case .dropout(let rate):
      let dx = try ReferenceGradients.dropout(
        dy: dy, rate: rate, seed: seed, stream: CounterRandom.stream(named: node.name))
      return NodeGradients(operands: [dx])
    case .lrn(let l):
      return NodeGradients(operands: [try ReferenceGradients.lrn(dy: dy, x: operand(0), l)])
    case .activation(let a):
      return NodeGradients(operands: [try ReferenceGradients.activation(dy: dy, x: operand(0), a)])
    case .loss(let kind):
      guard let target else { throw ReferenceError("the loss target was not given") }
      let dx = try ReferenceGradients.loss(kind, prediction: operand(0), target: target, dLoss: dy.data.first ?? 0)
      return NodeGradients(operands: [dx, nil])
    }
  }
}
