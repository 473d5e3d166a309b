// The dispatcher of gradient-node kernels other than dense and conv2d, and the checks they share.
import Foundation
import KilnIR

/// The kernels of the gradient nodes autodiff appends, for every forward op but dense and conv2d.
///
/// Each mirrors how `Interpreter+GradientNodes.swift` evaluates the node: the kernel's `.input` parameters
/// are the node's operands in order (`Autodiff.rule` decides them), parameters of the forward layer are read
/// by tensor name (`<forwardName>.weight`), and the one output is the gradient, batched like the forward
/// input for `.input(k)` and unbatched for a parameter. Parameter names: `dy`, `x` or `y` (the forward input or
/// output), `prediction` and `target` for a loss; the output is `dx`, `dweight` or `dbias`. Mul's gradient is
/// `ElementwiseBinaryKernel`'s product, with `a` = dy, `b` = the other operand, `y` = dx.
public enum GradientKernels {
  /// The kernel of a gradient node whose forward op is NOT dense or conv2d. `inputTypes` are the node's operand
  /// types in order (as lowering gives them), `outputType` its result type.
  /// - Throws: `KernelShapeError` when the operands are not the ones `Autodiff.rule` gives the op, a type does
  ///   not fit the forward op, or the op has no such gradient here (dense and conv2d have their own kernels).
  public static func make(
    name: String, gradient g: Gradient, inputTypes: [TensorType], outputType: TensorType, options: KernelOptions
  ) throws -> KernelFunction {
    guard inputTypes.count == g.operands.count else {
      throw KernelShapeError(
        kernel: name, "\(inputTypes.count) input types for the \(g.operands.count) operands \(g.operands)")
    }
    guard let result = g.resultType else {
      throw KernelShapeError(kernel: name, "\(g.forward.name) '\(g.forwardName)' has no \(g.target) to differentiate")
    }
    guard outputType == result else {
      throw KernelShapeError(kernel: name, "output type \(outputType); expected \(result), the type of \(g.target)")
    }
    let node = GradientNode(name: name, gradient: g, inputTypes: inputTypes)
    switch g.forward {
    case .dense, .conv2d:
      throw KernelShapeError(kernel: name, "the gradients of dense and conv layers are built by their own kernels")
    case .maxPool(let p):
      try node.require([.outputGradient, .forwardInput(0)], target: .input(0))
      return try PoolGradientKernel.make(node, max: true, pool: p)
    case .avgPool(let p):
      try node.require([.outputGradient], target: .input(0))
      return try PoolGradientKernel.make(node, max: false, pool: p)
    case .globalAvgPool:
      try node.require([.outputGradient], target: .input(0))
      return try PoolGradientKernel.makeGlobal(node)
    case .flatten, .reshape:
      try node.require([.outputGradient], target: .input(0))
      return try ShapeGradientKernel.makeReshape(node)
    case .concat:
      guard case .input(let k) = g.target else { throw node.error("concat has no parameters") }
      try node.require([.outputGradient], target: .input(k))
      return try ShapeGradientKernel.makeConcat(node, input: k)
    case .mul:
      guard case .input(let k) = g.target, k == 0 || k == 1 else { throw node.error("mul has inputs x0 and x1 only") }
      try node.require([.outputGradient, .forwardInput(1 - k)], target: .input(k))
      return try ShapeGradientKernel.makeMul(node, input: k)
    case .activation(let a):
      let operand: GradientOperand = g.index(of: .forwardOutput) != nil ? .forwardOutput : .forwardInput(0)
      try node.require([.outputGradient, operand], target: .input(0))
      return try ActivationGradientKernel.make(node, activation: a, fromOutput: operand == .forwardOutput)
    case .batchNorm(let b):
      return try NormalizationGradientKernel.makeBatchNorm(node, batchNorm: b)
    case .lrn(let l):
      try node.require([.outputGradient, .forwardInput(0)], target: .input(0))
      return try NormalizationGradientKernel.makeLRN(node, lrn: l)
    case .dropout(let rate):
      try node.require([.outputGradient], target: .input(0))
      return try DropoutTrainingKernel.makeGradient(
        name: name, layer: g.forwardName, rate: rate, perSample: node.forwardInput(0).elementCount)
    case .loss(let kind):
      try node.require([.forwardInput(0), .forwardInput(1)], target: .input(0))
      return try LossGradientKernel.make(name: name, kind: kind, prediction: inputTypes[0], target: inputTypes[1])
    case .add, .input, .gradient, .optimizerStep:
      // NOTE: autodiff passes an add's dy straight to both inputs; it never appends a gradient node for it.
      throw node.error("\(g.forward.name) has no gradient kernel")
    }
  }
}

/// A gradient node being built: its kernel name, the gradient and its operand types, with the checks every
/// gradient kernel makes.
struct GradientNode {
  var name: String
  var gradient: Gradient
  var inputTypes: [TensorType]

  /// An error of this kernel naming the forward layer.
  func error(_ message: String) -> KernelShapeError {
    KernelShapeError(kernel: name, "gradient of \(gradient.forward.name) '\(gradient.forwardName)': \(message)")
  }

  /// Requires the node's operands and target to be exactly these (the kernel's parameters follow them).
  func require(_ operands: [GradientOperand], target: Gradient.Target) throws {
    guard gradient.operands == operands, gradient.target == target else {
      throw error(
        "operands \(gradient.operands) toward \(gradient.target); expected \(operands) toward \(target)")
    }
  }

  /// The forward node's k-th input type.
  func forwardInput(_ k: Int) throws -> TensorType {
    guard gradient.forwardInputTypes.indices.contains(k) else { throw error("has no forward input \(k)") }
    return gradient.forwardInputTypes[k]
  }

  /// The type of operand `i`, required to be batched f32 with the per-sample dims `dims`.
  func operand(_ i: Int, dims: [Int]) throws -> TensorType {
    let t = inputTypes[i]
    guard t.dtype == .f32, t.batched, t.dims == dims else {
      throw error(
        "operand \(gradient.operands[i]) is \(t)\(t.batched ? "" : " unbatched"); expected f32\(dims) batched")
    }
    return t
  }

  /// The forward layer's name as it may appear in a C comment.
  var layer: String { cCommentText(gradient.forwardName) }

  /// The name of parameter `suffix` of the forward layer, e.g. `bn1.weight`.
  func parameter(_ suffix: String) -> String { "\(gradient.forwardName).\(suffix)" }
}

/// Exact C double literal (hexadecimal), e.g. `0x1.47ae147ae147bp-7`, for attributes the reference uses in
/// Double (slopes, ε, momentum, rates).
func cDouble(_ x: Double) -> String {
  if x == 0 { return x.sign == .minus ? "-0.0" : "0.0" }
  return String(format: "%a", x)
}

/// `s` as it may appear inside a C block comment: no `*/`, no line breaks.
func cCommentText(_ s: String) -> String {
  s.replacingOccurrences(of: "*/", with: "* /").replacingOccurrences(of: "\n", with: " ")
    .replacingOccurrences(of: "\r", with: " ")
}

/// `count · factor`, capped at `Int32.max`: the work estimate kernels compare with the parallel threshold.
func cappedWork(_ count: Int, _ factor: Int) -> Int {
  let (work, overflow) = count.multipliedReportingOverflow(by: factor)
  return overflow ? Int(Int32.max) : min(work, Int(Int32.max))
}

extension GradientKernels {
  /// Whether `forward` is dense or conv2d, whose gradients have their own kernels (not `make`).
  public static func isDenseOrConv(_ forward: Op) -> Bool {
    switch forward {
    case .dense, .conv2d: return true
    default: return false
    }
  }
}
