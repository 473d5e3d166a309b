// The backward of the activations: elementwise ones from their output or input, softmax and log-softmax.
import KilnIR

/// Context of `activation_gradient.c.mustache`.
public struct ActivationGradientContext: KernelContext {
  public static let template = "activation_gradient"
  /// The C function name and the text of its leading comment.
  public var name, comment: String
  /// The second parameter: `y` (the forward output) or `x` (its input).
  public var operand: String
  /// Values per sample.
  public var perSample: Int
  /// The C double expression of act′ in terms of `v`, the operand's value.
  public var derivative: String
  /// Below this many values the loop runs on one thread.
  public var parallelThreshold: Int

  public static let sample = ActivationGradientContext(
    name: "k1_grad_r", comment: "relu gradient r", operand: "y", perSample: 8,
    derivative: "(v > 0.0 ? 1.0 : 0.0)", parallelThreshold: elementwiseParallelThreshold)
}

/// Context of `softmax_gradient.c.mustache`.
public struct SoftmaxGradientContext: KernelContext {
  public static let template = "softmax_gradient"
  /// The C function name and the text of its leading comment.
  public var name, comment: String
  /// The second parameter: `y` (the forward output) or `x` (its input).
  public var operand: String
  /// Channels per sample (dimension 0): the values of one softmax.
  public var channels: Int
  /// Positions per channel and sample; each position is one softmax.
  public var inner: Int
  /// C·inner, for the parallel threshold.
  public var perSample: Int
  /// softmax rather than log_softmax.
  public var softmax: Bool
  /// Whether the operand is the forward output (else the probabilities are recomputed from x).
  public var fromOutput: Bool
  /// The C double expression of the probability s_c of channel `c` of the lane.
  public var probability: String
  /// Below this many values the loop runs on one thread.
  public var parallelThreshold: Int

  public static let sample = SoftmaxGradientContext(
    name: "k1_grad_p", comment: "softmax gradient p", operand: "y", channels: 10, inner: 1, perSample: 10,
    softmax: true, fromOutput: true, probability: "(double)vl[c * 1L]", parallelThreshold: elementwiseParallelThreshold)
}

/// The gradient kernel of `activation` toward its input.
enum ActivationGradientKernel {
  /* dx = act′ ⊙ dy with act′ written in terms of the operand the rule reads, as the reference writes it
     (ReferenceGradients.derivative(output:) and derivative(_:_:)):
       from y: relu 1 if y > 0; relu6 1 if 0 < y < 6; leaky_relu y > 0 ? 1 : α; elu y > 0 ? 1 : y + α;
               sigmoid y(1 − y); tanh 1 − y²; identity 1
       from x: the same kinks in x; elu x > 0 ? 1 : α·eˣ; sigmoid s(1 − s) with s = σ(x); tanh 1 − tanh²(x)
     The form from y needs act increasing with act(0) = 0 (so α > 0 for leaky_relu and elu).               */
  static func make(_ node: GradientNode, activation a: Activation, fromOutput: Bool) throws -> KernelFunction {
    let input = try node.forwardInput(0)
    let count = try KernelChecks.require(input, "input", ranks: 1...Int.max, layout: "[d1, …]", kernel: node.name)
    _ = try node.operand(0, dims: input.dims)
    _ = try node.operand(1, dims: input.dims)
    let operand = fromOutput ? "y" : "x"
    let comment = "\(a) gradient \(node.layer)"
    let definition: String
    if a.isElementwise {
      let derivative = try self.derivative(a, fromOutput: fromOutput, node)
      definition = TemplateRenderer.shared.render(
        ActivationGradientContext(
          name: node.name, comment: comment, operand: operand, perSample: count, derivative: derivative,
          parallelThreshold: elementwiseParallelThreshold))
    } else {
      let channels = input.dims[0]
      let inner = count / channels
      let value = "(double)vl[c * \(inner)L]"
      let probability = fromOutput ? (a == .softmax ? value : "exp(\(value))") : "(exp(\(value) - m) / sum)"
      definition = TemplateRenderer.shared.render(
        SoftmaxGradientContext(
          name: node.name, comment: comment, operand: operand, channels: channels, inner: inner, perSample: count,
          softmax: a == .softmax, fromOutput: fromOutput, probability: probability,
          parallelThreshold: elementwiseParallelThreshold))
    }
    return KernelFunction(
      name: node.name, definition: definition,
      parameters: [
        KernelParameter("dy", .input, floats: count), KernelParameter(operand, .input, floats: count),
        KernelParameter("dx", .output, floats: count),
      ])
  }

  /// act′ as a C double expression of `v`.
  static func derivative(_ a: Activation, fromOutput: Bool, _ node: GradientNode) throws -> String {
    guard !fromOutput || a.derivativeFollowsFromOutput else { throw node.error("\(a): act′ needs x, not y") }
    switch a {
    case .identity: return "1.0"
    case .relu: return "(v > 0.0 ? 1.0 : 0.0)"
    case .relu6: return "(v > 0.0 && v < 6.0 ? 1.0 : 0.0)"
    case .leakyRelu(let alpha):
      return "(v > 0.0 ? 1.0 : \(cDouble(alpha)))"
    case .elu(let alpha):
      return fromOutput ? "(v > 0.0 ? 1.0 : v + \(cDouble(alpha)))" : "(v > 0.0 ? 1.0 : \(cDouble(alpha)) * exp(v))"
    case .sigmoid:
      guard !fromOutput else { return "v * (1.0 - v)" }
      let s = "(v >= 0.0 ? 1.0 / (1.0 + exp(-v)) : exp(v) / (1.0 + exp(v)))"
      return "\(s) * (1.0 - \(s))"
    case .tanh:
      return fromOutput ? "(1.0 - v * v)" : "(1.0 - tanh(v) * tanh(v))"
    case .softmax, .logSoftmax:
      throw node.error("\(a) is not elementwise")
    }
  }
}
