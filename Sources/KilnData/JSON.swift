// A small strict JSON reader that keeps object keys in order (and so can report duplicates), and a string escaper.

import Foundation

/// A parsed JSON value. Objects keep their members in file order, duplicates included.
enum JSONValue: Equatable, Sendable {
  case object([(key: String, value: JSONValue)])
  case array([JSONValue])
  case string(String)
  /// The number exactly as written, so integers are never rounded through Double.
  case number(String)
  case bool(Bool)
  case null

  static func == (a: JSONValue, b: JSONValue) -> Bool {
    switch (a, b) {
    case (.object(let x), .object(let y)):
      return x.count == y.count && zip(x, y).allSatisfy { $0.key == $1.key && $0.value == $1.value }
    case (.array(let x), .array(let y)): return x == y
    case (.string(let x), .string(let y)), (.number(let x), .number(let y)): return x == y
    case (.bool(let x), .bool(let y)): return x == y
    case (.null, .null): return true
    default: return false
    }
  }

  /// A short name of the value's kind, for messages.
  var kind: String {
    switch self {
    case .object: return "an object"
    case .array: return "an array"
    case .string: return "a string"
    case .number: return "a number"
    case .bool: return "a boolean"
    case .null: return "null"
    }
  }

  /// The value as a non-negative integer, if it is written as one and fits in Int.
  var nonNegativeInt: Int? {
    guard case .number(let text) = self, text.allSatisfy(\.isASCIIDigit) else { return nil }
    return Int(text)
  }
}

extension Character {
  fileprivate var isASCIIDigit: Bool { isASCII && isNumber }
}

/// Why JSON text could not be parsed: what was expected, at which byte.
struct JSONSyntaxError: Error, Sendable, CustomStringConvertible {
  var offset: Int
  var message: String
  var description: String { "\(message) at byte \(offset) of the header" }
}

/// A recursive-descent parser over UTF-8 bytes (RFC 8259), nesting limited so hostile input cannot overflow the stack.
struct JSONParser {
  private let bytes: [UInt8]
  private var i = 0
  private var depth = 0
  private static let maxDepth = 64

  /// Parses `bytes` as exactly one JSON value, surrounded by optional whitespace.
  static func parse(_ bytes: [UInt8]) throws -> JSONValue {
    var p = JSONParser(bytes: bytes)
    let v = try p.value()
    p.skipWhitespace()
    guard p.i == bytes.count else { throw p.error("unexpected text after the JSON value") }
    return v
  }

  private init(bytes: [UInt8]) { self.bytes = bytes }

  private func error(_ message: String) -> JSONSyntaxError { JSONSyntaxError(offset: i, message: message) }

  private mutating func skipWhitespace() {
    while i < bytes.count, [0x20, 0x09, 0x0A, 0x0D].contains(bytes[i]) { i += 1 }
  }

  private mutating func expect(_ c: UInt8, _ what: String) throws {
    skipWhitespace()
    guard i < bytes.count, bytes[i] == c else { throw error("expected \(what)") }
    i += 1
  }

  private mutating func value() throws -> JSONValue {
    skipWhitespace()
    guard i < bytes.count else { throw error("unexpected end of JSON") }
    switch bytes[i] {
    case UInt8(ascii: "{"): return try object()
    case UInt8(ascii: "["): return try array()
    case UInt8(ascii: "\""): return .string(try string())
    case UInt8(ascii: "t"): return try literal("true", .bool(true))
    case UInt8(ascii: "f"): return try literal("false", .bool(false))
    case UInt8(ascii: "n"): return try literal("null", .null)
    case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return try number()
    default: throw error("unexpected character '\(Character(Unicode.Scalar(bytes[i])))'")
    }
  }

  private mutating func literal(_ word: String, _ v: JSONValue) throws -> JSONValue {
    let w = Array(word.utf8)
    guard i + w.count <= bytes.count, Array(bytes[i..<i + w.count]) == w else { throw error("invalid literal") }
    i += w.count
    return v
  }

  private mutating func nested<T>(_ body: (inout JSONParser) throws -> T) throws -> T {
    depth += 1
    defer { depth -= 1 }
    guard depth <= Self.maxDepth else { throw error("JSON nested deeper than \(Self.maxDepth) levels") }
    return try body(&self)
  }

  private mutating func object() throws -> JSONValue {
    try nested { p in
      p.i += 1
      var members: [(key: String, value: JSONValue)] = []
      p.skipWhitespace()
      if p.i < p.bytes.count, p.bytes[p.i] == UInt8(ascii: "}") {
        p.i += 1
        return .object(members)
      }
      while true {
        p.skipWhitespace()
        guard p.i < p.bytes.count, p.bytes[p.i] == UInt8(ascii: "\"") else { throw p.error("expected a string key") }
        let key = try p.string()
        try p.expect(UInt8(ascii: ":"), "':' after a key")
        members.append((key, try p.value()))
        p.skipWhitespace()
        guard p.i < p.bytes.count else { throw p.error("unterminated object") }
        if p.bytes[p.i] == UInt8(ascii: "}") {
          p.i += 1
          return .object(members)
        }
        try p.expect(UInt8(ascii: ","), "',' or '}' in an object")
      }
    }
  }

  private mutating func array() throws -> JSONValue {
    try nested { p in
      p.i += 1
      var elements: [JSONValue] = []
      p.skipWhitespace()
      if p.i < p.bytes.count, p.bytes[p.i] == UInt8(ascii: "]") {
        p.i += 1
        return .array(elements)
      }
      while true {
        elements.append(try p.value())
        p.skipWhitespace()
        guard p.i < p.bytes.count else { throw p.error("unterminated array") }
        if p.bytes[p.i] == UInt8(ascii: "]") {
          p.i += 1
          return .array(elements)
        }
        try p.expect(UInt8(ascii: ","), "',' or ']' in an array")
      }
    }
  }

  private mutating func number() throws -> JSONValue {
    let start = i
    func digits(_ p: inout JSONParser) -> Int {
      let s = p.i
      while p.i < p.bytes.count, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(p.bytes[p.i]) { p.i += 1 }
      return p.i - s
    }
    if bytes[i] == UInt8(ascii: "-") { i += 1 }
    let intStart = i
    let n = digits(&self)
    guard n > 0 else { throw error("invalid number") }
    guard n == 1 || bytes[intStart] != UInt8(ascii: "0") else { throw error("invalid number with a leading zero") }
    if i < bytes.count, bytes[i] == UInt8(ascii: ".") {
      i += 1
      guard digits(&self) > 0 else { throw error("invalid number") }
    }
    if i < bytes.count, bytes[i] == UInt8(ascii: "e") || bytes[i] == UInt8(ascii: "E") {
      i += 1
      if i < bytes.count, bytes[i] == UInt8(ascii: "+") || bytes[i] == UInt8(ascii: "-") { i += 1 }
      guard digits(&self) > 0 else { throw error("invalid number") }
    }
    return .number(String(decoding: bytes[start..<i], as: UTF8.self))
  }

  private mutating func hex4() throws -> UInt32 {
    guard i + 4 <= bytes.count, let v = UInt32(String(decoding: bytes[i..<i + 4], as: UTF8.self), radix: 16) else {
      throw error("invalid \\u escape")
    }
    i += 4
    return v
  }

  private mutating func string() throws -> String {
    i += 1
    var out: [UInt8] = []
    while true {
      guard i < bytes.count else { throw error("unterminated string") }
      let c = bytes[i]
      i += 1
      switch c {
      case UInt8(ascii: "\""):
        guard let s = String(bytes: out, encoding: .utf8) else { throw error("string is not valid UTF-8") }
        return s
      case UInt8(ascii: "\\"):
        guard i < bytes.count else { throw error("unterminated string") }
        let e = bytes[i]
        i += 1
        let simple: [UInt8: UInt8] = [
          0x22: 0x22, 0x5C: 0x5C, 0x2F: 0x2F, 0x62: 0x08, 0x66: 0x0C, 0x6E: 0x0A, 0x72: 0x0D, 0x74: 0x09,
        ]
        if let s = simple[e] {
          out.append(s)
        } else if e == UInt8(ascii: "u") {
          var code = try hex4()
          if (0xD800..<0xDC00).contains(code) {
            guard i + 2 <= bytes.count, bytes[i] == UInt8(ascii: "\\"), bytes[i + 1] == UInt8(ascii: "u") else {
              throw error("unpaired surrogate in \\u escape")
            }
            i += 2
            let low = try hex4()
            guard (0xDC00..<0xE000).contains(low) else { throw error("unpaired surrogate in \\u escape") }
            code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00)
          }
          guard let scalar = Unicode.Scalar(code) else { throw error("invalid \\u escape") }
          out.append(contentsOf: Array(String(Character(scalar)).utf8))
        } else {
          throw error("invalid escape '\\\(Character(Unicode.Scalar(e)))'")
        }
      case 0..<0x20:
        throw error("control character in a string")
      default:
        out.append(c)
      }
    }
  }
}

/// `s` as a JSON string literal, quotes included.
func jsonQuoted(_ s: String) -> String {
  var out = "\""
  for scalar in s.unicodeScalars {
    switch scalar {
    case "\"": out += "\\\""
    case "\\": out += "\\\\"
    case "\n": out += "\\n"
    case "\r": out += "\\r"
    case "\t": out += "\\t"
    case _ where scalar.value < 0x20:
      let hex = String(scalar.value, radix: 16)
      out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
    default: out.unicodeScalars.append(scalar)
    }
  }
  return out + "\""
}
