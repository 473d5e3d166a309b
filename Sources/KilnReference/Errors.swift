// The errors of the reference interpreter: op-level (bad tensors) and graph-level (named inputs and parameters).
import KilnIR

/// Why a reference op cannot be applied to the tensors it was given, e.g. a shape that does not match.
public struct ReferenceError: Error, Hashable, Sendable, CustomStringConvertible {
  /// What is wrong, naming the op and the offending operand, e.g. "conv2d: weight has shape [6, 2, 5, 5], expected …".
  public var message: String

  /// Creates an error with the given message.
  public init(_ message: String) { self.message = message }

  public var description: String { message }
}

/// Why an `Interpreter` cannot be built for a graph, or cannot run it on the given inputs.
/// Every case names the tensor or node at fault and, where it applies, the expected and found shapes.
public enum InterpreterError: Error, Hashable, Sendable, CustomStringConvertible {
  /// The graph breaks a structural invariant (see `Verifier`).
  case invalidGraph([Diagnostic])
  /// A parameter the graph needs was not supplied.
  case missingParameter(name: String, expected: [Int])
  /// A parameter was supplied with the wrong shape.
  case parameterShape(name: String, expected: [Int], found: [Int])
  /// A data input, or the target an output depends on, was not supplied. `expected` holds the per-sample dims.
  case missingInput(name: String, expected: [Int])
  /// A tensor was supplied under a name that no input node of the graph has.
  case unknownInput(name: String, known: [String])
  /// An input was supplied with the wrong per-sample dims (or rank). `expected` holds the per-sample dims.
  case inputShape(name: String, expected: [Int], found: [Int])
  /// An input was supplied with the wrong element type.
  case inputType(name: String, expected: DType, found: DType)
  /// An input's batch size differs from the batch of an earlier input.
  case batchMismatch(name: String, expected: Int, found: Int, firstInput: String)
  /// A class label is not in 0..<classes.
  case labelOutOfRange(name: String, sample: Int, label: Int64, classes: Int)
  /// An input has an empty batch, or (name nil) nothing at all was given to a graph without data inputs.
  case emptyBatch(name: String?)
  /// A node cannot be computed on the values reaching it.
  case nodeFailed(node: String, op: String, location: SourceLocation?, reason: String)

  public var description: String {
    func batched(_ dims: [Int]) -> String { "[" + (["N"] + dims.map(String.init)).joined(separator: ", ") + "]" }
    switch self {
    case .invalidGraph(let ds):
      return "invalid graph: " + ds.map(\.description).joined(separator: "; ")
    case .missingParameter(let name, let expected):
      return "missing parameter '\(name)'; expected a tensor of shape \(expected)"
    case .parameterShape(let name, let expected, let found):
      return "parameter '\(name)' has shape \(found); expected \(expected)"
    case .missingInput(let name, let expected):
      return "missing input '\(name)'; expected a tensor of shape \(batched(expected))"
    case .unknownInput(let name, let known):
      return "no input of the graph is named '\(name)'; expected one of: \(known.joined(separator: ", "))"
    case .inputShape(let name, let expected, let found):
      return "input '\(name)' has shape \(found); expected \(batched(expected))"
    case .inputType(let name, let expected, let found):
      return "input '\(name)' has element type \(found.rawValue); expected \(expected.rawValue)"
    case .batchMismatch(let name, let expected, let found, let first):
      return "input '\(name)' has batch size \(found); expected \(expected), the batch of input '\(first)'"
    case .labelOutOfRange(let name, let sample, let label, let classes):
      return "target '\(name)' holds label \(label) at sample \(sample); expected a class index in 0..<\(classes)"
    case .emptyBatch(let name):
      if let name { return "input '\(name)' has an empty batch; expected at least one sample" }
      return "no input was given and the graph has no data input, so the batch size is unknown"
    case .nodeFailed(let node, let op, let location, let reason):
      let at = location.map { "\($0): " } ?? ""
      return "\(at)\(op) '\(node)': \(reason)"
    }
  }
}
