// A parser for the Python literal dictionaries that head .npy files: `{'descr': '<f4', 'shape': (2, 3), }`.

/// A Python literal value, as far as .npy headers use them.
enum PythonLiteral: Equatable, Sendable {
  case dict([(key: PythonLiteral, value: PythonLiteral)])
  case tuple([PythonLiteral])
  case list([PythonLiteral])
  case string(String)
  case int(Int)
  case bool(Bool)
  case none

  static func == (a: PythonLiteral, b: PythonLiteral) -> Bool {
    switch (a, b) {
    case (.dict(let x), .dict(let y)):
      return x.count == y.count && zip(x, y).allSatisfy { $0.key == $1.key && $0.value == $1.value }
    case (.tuple(let x), .tuple(let y)), (.list(let x), .list(let y)): return x == y
    case (.string(let x), .string(let y)): return x == y
    case (.int(let x), .int(let y)): return x == y
    case (.bool(let x), .bool(let y)): return x == y
    case (.none, .none): return true
    default: return false
    }
  }

  /// The literal as Python's repr would print it, for messages.
  var text: String {
    switch self {
    case .dict(let pairs): return "{" + pairs.map { "\($0.key.text): \($0.value.text)" }.joined(separator: ", ") + "}"
    case .tuple(let xs): return xs.count == 1 ? "(\(xs[0].text),)" : "(" + xs.map(\.text).joined(separator: ", ") + ")"
    case .list(let xs): return "[" + xs.map(\.text).joined(separator: ", ") + "]"
    case .string(let s): return "'\(s)'"
    case .int(let i): return String(i)
    case .bool(let b): return b ? "True" : "False"
    case .none: return "None"
    }
  }

  /// Parses `text` as one literal (surrounding whitespace allowed); the error says what was expected where.
  static func parse(_ text: String) throws(PythonLiteralError) -> PythonLiteral {
    var p = Parser(chars: Array(text.unicodeScalars))
    let v = try p.value(depth: 0)
    p.skipSpace()
    guard p.i == p.chars.count else { throw p.error("unexpected text after the literal") }
    return v
  }

  private struct Parser {
    var chars: [Unicode.Scalar]
    var i = 0

    func error(_ message: String) -> PythonLiteralError { PythonLiteralError(offset: i, message: message) }

    mutating func skipSpace() {
      while i < chars.count, chars[i].properties.isWhitespace { i += 1 }
    }

    mutating func value(depth: Int) throws(PythonLiteralError) -> PythonLiteral {
      guard depth < 32 else { throw error("literal nested too deeply") }
      skipSpace()
      guard i < chars.count else { throw error("unexpected end of the header") }
      switch chars[i] {
      case "{": return .dict(try sequence(close: "}", depth: depth, pairs: true).pairs)
      case "(":
        let s = try sequence(close: ")", depth: depth, pairs: false)
        // `(3)` is just 3 in Python; only `(3,)` is a tuple.
        if s.items.count == 1 && !s.trailingComma { return s.items[0] }
        return .tuple(s.items)
      case "[": return .list(try sequence(close: "]", depth: depth, pairs: false).items)
      case "'", "\"": return .string(try string())
      case "-", "0"..."9": return .int(try int())
      default:
        for (word, v) in [("True", PythonLiteral.bool(true)), ("False", .bool(false)), ("None", .none)] {
          let w = Array(word.unicodeScalars)
          if i + w.count <= chars.count, Array(chars[i..<i + w.count]) == w {
            i += w.count
            return v
          }
        }
        throw error("unexpected character '\(chars[i])'")
      }
    }

    mutating func sequence(close: Unicode.Scalar, depth: Int, pairs: Bool) throws(PythonLiteralError) -> (
      items: [PythonLiteral], pairs: [(key: PythonLiteral, value: PythonLiteral)], trailingComma: Bool
    ) {
      i += 1
      var items: [PythonLiteral] = []
      var kv: [(key: PythonLiteral, value: PythonLiteral)] = []
      var trailingComma = false
      while true {
        skipSpace()
        guard i < chars.count else { throw error("missing '\(close)'") }
        if chars[i] == close {
          i += 1
          return (items, kv, trailingComma)
        }
        let first = try value(depth: depth + 1)
        if pairs {
          skipSpace()
          guard i < chars.count, chars[i] == ":" else { throw error("expected ':' after a dictionary key") }
          i += 1
          kv.append((first, try value(depth: depth + 1)))
        } else {
          items.append(first)
        }
        skipSpace()
        guard i < chars.count else { throw error("missing '\(close)'") }
        trailingComma = chars[i] == ","
        if trailingComma {
          i += 1
        } else if chars[i] != close {
          throw error("expected ',' or '\(close)'")
        }
      }
    }

    mutating func string() throws(PythonLiteralError) -> String {
      let quote = chars[i]
      i += 1
      var s = String.UnicodeScalarView()
      while i < chars.count, chars[i] != quote {
        // .npy descriptors and keys never need escapes; a backslash is kept literally but must not end the string.
        if chars[i] == "\\", i + 1 < chars.count {
          s.append(chars[i])
          i += 1
        }
        s.append(chars[i])
        i += 1
      }
      guard i < chars.count else { throw error("unterminated string") }
      i += 1
      return String(s)
    }

    mutating func int() throws(PythonLiteralError) -> Int {
      let start = i
      if chars[i] == "-" { i += 1 }
      while i < chars.count, ("0"..."9").contains(chars[i]) { i += 1 }
      var text = String(String.UnicodeScalarView(chars[start..<i]))
      // Python 2 wrote long integers with an L suffix, e.g. (3L, 4L).
      if i < chars.count, chars[i] == "L" { i += 1 }
      if text == "-" { text = "" }
      guard let v = Int(text) else { throw PythonLiteralError(offset: start, message: "invalid integer") }
      return v
    }
  }
}

/// Why a Python literal could not be parsed.
struct PythonLiteralError: Error, Sendable, CustomStringConvertible {
  var offset: Int
  var message: String
  var description: String { "\(message) at character \(offset)" }
}
