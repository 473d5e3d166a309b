// The syntax tree the parser builds: statements and attribute values, each with its source location.

import KilnIR

/// An identifier as written, with where it was written.
struct Name: Equatable {
  var text: String
  var location: SourceLocation
}

/// An attribute or argument value.
struct Value {
  indirect enum Kind {
    case integer(Int)
    case number(Double)
    case boolean(Bool)
    case name(String)
    /// `callee(arguments)`, e.g. `leaky_relu(0.1)` or `sgd(lr: 0.1)`.
    case call(String, [Argument])
    /// `[v, v, …]`.
    case list([Value])
  }

  var kind: Kind
  var location: SourceLocation
  /// The source text of a scalar, or a short rendering of a call or list.
  var text: String

  /// How the value reads in a diagnostic: `identifier 'six'`, `number '0.5'`, `a list [1, 2, 3]`.
  var description: String {
    switch kind {
    case .integer: return "integer '\(text)'"
    case .number: return "number '\(text)'"
    case .boolean: return "'\(text)'"
    case .name: return "identifier '\(text)'"
    case .call: return "call '\(text)'"
    case .list: return "list '\(text)'"
    }
  }
}

/// `key: value` or a positional `value`.
struct Argument {
  var key: Name?
  var value: Value
}

/// `OP [NAME] [(ATTRS)] [<- VALUE, ...]`.
struct LayerStatement {
  var keyword: Name
  var name: Name?
  var attributes: [Argument] = []
  /// The values after `<-`; nil for the sequential form.
  var sources: [Name]?
  /// A syntax error was reported in the statement: it is left out, and so is whatever reads it.
  var isBroken = false
}

/// `input NAME: DTYPE[DIMS]`.
struct InputStatement {
  var location: SourceLocation
  var name: Name?
  var dtype: Name?
  var dims: [Value] = []
  var dimsLocation: SourceLocation?
  var isBroken = false
}

/// `output NAME [<- VALUE]`.
struct OutputStatement {
  var location: SourceLocation
  var name: Name?
  var source: Name?
  var isBroken = false
}

/// `train { KEY: VALUE ... }`.
struct TrainStatement {
  var location: SourceLocation
  var entries: [(key: Name, value: Value)] = []
  /// Some entry had a syntax error (already reported).
  var isBroken = false
}

/// One statement of a spec file.
enum Statement {
  case network(location: SourceLocation, name: Name?)
  case input(InputStatement)
  case layer(LayerStatement)
  case output(OutputStatement)
  case train(TrainStatement)
}
