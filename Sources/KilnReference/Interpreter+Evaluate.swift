// The interpreter's per-node work: the static type walk done at construction, and one node's evaluation.
import KilnIR

extension Interpreter {
  /// What evaluating one node produced.
  struct Evaluation {
    var value: AnyTensor
    /// Updated batch-norm running statistics, by parameter name.
    var updates: [String: Tensor] = [:]
    /// The loss in full Double precision, for loss nodes.
    var loss: Double?
  }

  /// The node's per-sample type from its operands' types, by the same shape rules the ops apply at run
  /// time (evaluated at batch 1). Every operand must be a batched f32 value, except a loss's target.
  static func staticType(of node: Node, inputTypes: [TensorType]) throws -> TensorType {
    do {
      if case .input(let declared) = node.op {
        guard declared.type.batched else { throw ReferenceError("inputs are batched; the declared type is not") }
        return declared.type
      }
      if let type = try autodiffType(of: node, inputTypes: inputTypes) { return type }
      for (k, t) in inputTypes.enumerated() {
        let isLossTarget = k == 1 && { if case .loss = node.op { return true } else { return false } }()
        guard t.batched else { throw ReferenceError("operand \(k) is the unbatched loss; expected a batched value") }
        guard isLossTarget || t.dtype == .f32 else {
          throw ReferenceError("operand \(k) has type \(t); expected f32")
        }
      }
      let shapes = inputTypes.map { [1] + $0.dims }
      let out: [Int]
      switch node.op {
      case .input:
        return inputTypes[0]  // handled above
      case .dense(let d):
        out = try Shapes.activation(input: Shapes.dense(input: shapes[0], units: d.units), d.activation)
        try Shapes.epilogue(d.epilogue, value: out, operands: Array(shapes.dropFirst()))
      case .conv2d(let c):
        out = try Shapes.activation(input: Shapes.conv2d(input: shapes[0], c).shape, c.activation)
        try Shapes.epilogue(c.epilogue, value: out, operands: Array(shapes.dropFirst()))
      case .maxPool(let p):
        out = try Shapes.pool("maxpool", input: shapes[0], p).shape
      case .avgPool(let p):
        out = try Shapes.pool("avgpool", input: shapes[0], p).shape
      case .globalAvgPool:
        out = try Shapes.globalAvgPool(input: shapes[0])
      case .flatten:
        out = try Shapes.flatten(input: shapes[0])
      case .reshape(let dims):
        out = try Shapes.reshape(input: shapes[0], dims: dims)
      case .concat:
        out = try Shapes.concat(inputs: shapes)
      case .add, .mul:
        out = try Shapes.elementwise(node.op.name, shapes[0], shapes[1])
      case .batchNorm:
        out = try Shapes.channelwise("batchnorm", input: shapes[0])
      case .lrn:
        out = try Shapes.channelwise("lrn", input: shapes[0])
      case .dropout(let rate):
        guard rate >= 0, rate <= 1 else { throw ReferenceError("dropout: rate \(rate) must be in [0, 1]") }
        out = shapes[0]
      case .activation(let a):
        out = try Shapes.activation(input: shapes[0], a)
      case .loss(let kind):
        _ = try Shapes.loss(kind, prediction: shapes[0], target: shapes[1], targetType: inputTypes[1].dtype)
        return TensorType(.f32, [], batched: false)
      case .gradient, .optimizerStep:
        return inputTypes[0]  // handled above
      }
      return TensorType(.f32, Array(out.dropFirst()))
    } catch let e as ReferenceError {
      throw InterpreterError.nodeFailed(node: node.name, op: node.op.name, location: node.location, reason: e.message)
    }
  }

  /// Computes one (non-input) node from its operands' values with the reference ops.
  func evaluate(_ node: Node, operands: [AnyTensor], mode: Mode) throws -> Evaluation {
    func operand(_ k: Int) throws -> Tensor {
      guard case .f32(let t) = operands[k] else { throw ReferenceError("operand \(k) is i64; expected f32") }
      return t
    }
    func parameter(_ suffix: String) throws -> Tensor {
      // Present with the right shape: checked by init(graph:parameters:).
      guard let t = parameters["\(node.name).\(suffix)"] else {
        throw ReferenceError("missing parameter '\(node.name).\(suffix)'")
      }
      return t
    }
    func value(_ t: Tensor) -> Evaluation { Evaluation(value: .f32(t)) }
    do {
      switch node.op {
      case .gradient, .optimizerStep:
        guard let t = try evaluateAutodiff(node, operands: operands, mode: mode) else {
          throw ReferenceError("not an autodiff node")
        }
        return value(t)
      case .input:
        // Bound by run(_:mode:), which never evaluates an input node.
        throw ReferenceError("an input node has no operation to evaluate")
      case .dense(let d):
        let bias = d.bias ? try parameter("bias") : nil
        let v = try ReferenceOps.dense(operand(0), weight: parameter("weight"), bias: bias, activation: d.activation)
        return value(try ReferenceOps.epilogue(v, d.epilogue, operands: operands.indices.dropFirst().map(operand)))
      case .conv2d(let c):
        let bias = c.bias ? try parameter("bias") : nil
        let v = try ReferenceOps.conv2d(operand(0), weight: parameter("weight"), bias: bias, c)
        return value(try ReferenceOps.epilogue(v, c.epilogue, operands: operands.indices.dropFirst().map(operand)))
      case .maxPool(let p):
        return value(try ReferenceOps.maxPool(operand(0), p))
      case .avgPool(let p):
        return value(try ReferenceOps.avgPool(operand(0), p))
      case .globalAvgPool:
        return value(try ReferenceOps.globalAvgPool(operand(0)))
      case .flatten:
        return value(try ReferenceOps.flatten(operand(0)))
      case .reshape(let dims):
        return value(try ReferenceOps.reshape(operand(0), dims: dims))
      case .concat:
        return value(try ReferenceOps.concat(operands.indices.map(operand)))
      case .add:
        return value(try ReferenceOps.add(operand(0), operand(1)))
      case .mul:
        return value(try ReferenceOps.mul(operand(0), operand(1)))
      case .batchNorm(let b):
        let (x, gamma, beta) = (try operand(0), try parameter("weight"), try parameter("bias"))
        let (mean, variance) = (try parameter("running_mean"), try parameter("running_var"))
        switch mode {
        case .inference:
          return value(
            try ReferenceOps.batchNormInference(
              x, weight: gamma, bias: beta, runningMean: mean, runningVar: variance, b))
        case .training:
          let r = try ReferenceOps.batchNormTraining(
            x, weight: gamma, bias: beta, runningMean: mean, runningVar: variance, b)
          return Evaluation(
            value: .f32(r.output),
            updates: ["\(node.name).running_mean": r.runningMean, "\(node.name).running_var": r.runningVar])
        }
      case .dropout(let rate):
        let x = try operand(0)
        switch mode {
        case .inference:
          return value(try ReferenceOps.dropout(x, rate: rate, training: false, seed: 0, stream: 0))
        case .training(let seed):
          return value(
            try ReferenceOps.dropout(
              x, rate: rate, training: true, seed: seed, stream: CounterRandom.stream(named: node.name)))
        }
      case .lrn(let l):
        return value(try ReferenceOps.lrn(operand(0), l))
      case .activation(let a):
        return value(try ReferenceOps.activation(operand(0), a))
      case .loss(let kind):
        let prediction = try operand(0)
        try checkLabels(of: node, prediction: prediction, target: operands[1])
        let loss = try ReferenceOps.loss(kind, prediction: prediction, target: operands[1])
        return Evaluation(value: .f32(Tensor(shape: [], data: [Float(loss)])), loss: loss)
      }
    } catch let e as ReferenceError {
      throw InterpreterError.nodeFailed(node: node.name, op: node.op.name, location: node.location, reason: e.message)
    }
  }

  /// Class labels must index a column of the logits; the error names the target input.
  private func checkLabels(of node: Node, prediction: Tensor, target: AnyTensor) throws {
    guard case .i64(let labels) = target, prediction.shape.count == 2 else { return }
    let classes = prediction.shape[1]
    if let sample = labels.data.firstIndex(where: { $0 < 0 || $0 >= Int64(classes) }) {
      throw InterpreterError.labelOutOfRange(
        name: graph[node.inputs[1]].name, sample: sample, label: labels.data[sample], classes: classes)
    }
  }
}
