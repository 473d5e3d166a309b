// The elementwise ops a conv or dense kernel applies to each value before storing it, as template list sections.
import KilnIR

/// One step of a kernel's epilogue list section (`{{#epilogue}}…{{/epilogue}}`): `v = act(v);` or
/// `v = v + r1[index];` / `v = v * r1[index];`, where the template supplies the index of the element it stores.
public struct EpilogueStepContext: Hashable, Sendable {
  /// An activation step.
  public var activation: Bool
  /// Its C expression of `v` (empty for other steps).
  public var activationOfValue: String
  /// An `add` or `mul` step reading an extra input.
  public var binary: Bool
  /// `+` or `*` (empty for activations).
  public var `operator`: String
  /// The C parameter holding the operand, `r1`, `r2`, … (empty for activations).
  public var operand: String
}

/// One extra input of a fused kernel, a `const float *restrict` parameter after the bias.
public struct EpilogueOperandContext: Hashable, Sendable {
  /// `r1`, `r2`, …: the operand of the i-th `add`/`mul`, the node's input i.
  public var name: String
}

/// What a conv or dense kernel does with each value after its bias: the layer's own activation, then the
/// node's `epilogue`, in order, in float, as the standalone activation/add/mul kernels would.
struct FusedEpilogue {
  /// The steps; empty when the value is stored as it is.
  var steps: [EpilogueStepContext] = []
  /// The extra inputs the steps read.
  var operands: [EpilogueOperandContext] = []
  /// For the kernel's leading comment, e.g. `relu, + r1, relu`; `none` when there are no steps.
  var summary: String { steps.isEmpty ? "none" : descriptions.joined(separator: ", ") }
  private var descriptions: [String] = []

  /// The steps of `activation` (left out when it is the identity) followed by those of `epilogue`.
  /// Activations must be elementwise: the caller traps on softmax, which lowering gives a kernel of its own.
  init(activation: Activation, epilogue: [EpilogueOp]) {
    let ops = (activation == .identity ? [] : [EpilogueOp.activation(activation)]) + epilogue
    for op in ops {
      switch op {
      case .activation(let a):
        steps.append(
          EpilogueStepContext(
            activation: true, activationOfValue: cActivation(a, "v"), binary: false, operator: "", operand: ""))
        descriptions.append(a.description)
      case .add, .mul:
        let name = "r\(operands.count + 1)"
        let symbol = op == .add ? "+" : "*"
        operands.append(EpilogueOperandContext(name: name))
        steps.append(
          EpilogueStepContext(activation: false, activationOfValue: "", binary: true, operator: symbol, operand: name))
        descriptions.append("\(symbol) \(name)")
      }
    }
  }

  /// The kernel parameters of the operands, each `floats` per sample like the output.
  func parameters(floats: Int) -> [KernelParameter] {
    operands.map { KernelParameter($0.name, .input, floats: floats) }
  }
}
