// The spec lexer: source text -> tokens with 1-based line/column, plus diagnostics for bad characters.

import KilnIR

/// The kinds of token of the spec language.
enum TokenKind: Equatable {
  case identifier(String)
  case integer(Int)
  case number(Double)
  case leftParen, rightParen, leftBracket, rightBracket, leftBrace, rightBrace
  case colon, comma, equals, arrow
  /// The end of a line (comments are dropped before it).
  case newline
  /// Text the lexer could not read; already reported, so the parser skips the statement silently.
  case invalid
  case end
}

/// One token with where it starts and its source text.
struct Token {
  var kind: TokenKind
  var text: String
  var line: Int
  var column: Int

  /// How the token reads in a diagnostic: `identifier 'six'`, `integer '6'`, `'('`, `end of line`.
  var description: String {
    switch kind {
    case .identifier: return "identifier '\(text)'"
    case .integer: return "integer '\(text)'"
    case .number: return "number '\(text)'"
    case .newline: return "end of line"
    case .end: return "end of file"
    default: return "'\(text)'"
    }
  }

  var identifier: String? {
    if case .identifier(let s) = kind { return s }
    return nil
  }
}

/// Splits spec text into tokens. Never fails: unreadable text becomes an `.invalid` token and a diagnostic.
struct Lexer {
  private let scalars: [Unicode.Scalar]
  private let file: String
  private var index = 0
  private var line = 1
  private var column = 1
  private(set) var diagnostics: [Diagnostic] = []

  init(_ source: String, file: String) {
    self.scalars = Array(source.unicodeScalars)
    self.file = file
  }

  /// All tokens of the source, ending with one `.end` token.
  mutating func tokenize() -> [Token] {
    var tokens: [Token] = []
    while let token = next() { tokens.append(token) }
    tokens.append(Token(kind: .end, text: "", line: line, column: column))
    return tokens
  }

  private func peek(_ offset: Int = 0) -> Unicode.Scalar? {
    index + offset < scalars.count ? scalars[index + offset] : nil
  }

  private mutating func advance() {
    if scalars[index] == "\n" {
      line += 1
      column = 1
    } else {
      column += 1
    }
    index += 1
  }

  private static func isIdentifierStart(_ c: Unicode.Scalar) -> Bool {
    (c >= "a" && c <= "z") || (c >= "A" && c <= "Z") || c == "_"
  }
  private static func isDigit(_ c: Unicode.Scalar) -> Bool { c >= "0" && c <= "9" }
  private static func isIdentifierPart(_ c: Unicode.Scalar) -> Bool { isIdentifierStart(c) || isDigit(c) }
  private static func isStructural(_ c: Unicode.Scalar) -> Bool {
    c == "\n" || c == "#" || isIdentifierStart(c) || isDigit(c) || "()[]{}:,=<-".unicodeScalars.contains(c)
      || c.properties.isWhitespace
  }

  private mutating func next() -> Token? {
    // Skip blanks and comments; newlines are tokens.
    while let c = peek() {
      if c == "#" {
        while let d = peek(), d != "\n" { advance() }
      } else if c != "\n" && c.properties.isWhitespace {
        advance()
      } else {
        break
      }
    }
    guard let c = peek() else { return nil }
    let start = (index: index, line: line, column: column)
    func token(_ kind: TokenKind) -> Token {
      Token(kind: kind, text: String(String.UnicodeScalarView(scalars[start.index..<index])), line: start.line,
        column: start.column)
    }
    if c == "\n" {
      advance()
      return token(.newline)
    }
    if Self.isIdentifierStart(c) {
      while let d = peek(), Self.isIdentifierPart(d) { advance() }
      var word = token(.invalid)
      word.kind = .identifier(word.text)
      return word
    }
    if Self.isDigit(c) || (c == "-" && peek(1).map(Self.isDigit) == true) {
      return number(start: start)
    }
    let punctuation: [Unicode.Scalar: TokenKind] = [
      "(": .leftParen, ")": .rightParen, "[": .leftBracket, "]": .rightBracket, "{": .leftBrace,
      "}": .rightBrace, ":": .colon, ",": .comma, "=": .equals,
    ]
    if let kind = punctuation[c] {
      advance()
      return token(kind)
    }
    if c == "<" && peek(1) == "-" {
      advance()
      advance()
      return token(.arrow)
    }
    // A run of characters the language does not use: one diagnostic for the run.
    advance()
    while let d = peek(), !Self.isStructural(d) { advance() }
    let bad = token(.invalid)
    let shown = bad.text.unicodeScalars.allSatisfy { $0.isASCII && $0.value >= 0x20 && $0.value < 0x7f }
      ? "'\(bad.text)'"
      : bad.text.unicodeScalars.map { "U+" + String($0.value, radix: 16, uppercase: true) }.joined(separator: " ")
    report(bad, "unexpected character \(shown)",
      expected: "a name, a number, '#' for a comment, or one of ( ) [ ] { } : , = <-")
    return bad
  }

  /// `-?digits(.digits)?([eE][+-]?digits)?`; an integer when it has neither fraction nor exponent.
  private mutating func number(start: (index: Int, line: Int, column: Int)) -> Token {
    if peek() == "-" { advance() }
    while let d = peek(), Self.isDigit(d) { advance() }
    var isInteger = true
    if peek() == ".", let d = peek(1), Self.isDigit(d) {
      isInteger = false
      advance()
      while let d = peek(), Self.isDigit(d) { advance() }
    }
    if let e = peek(), e == "e" || e == "E" {
      let signed = peek(1) == "+" || peek(1) == "-"
      if let d = peek(signed ? 2 : 1), Self.isDigit(d) {
        isInteger = false
        advance()
        if signed { advance() }
        while let d = peek(), Self.isDigit(d) { advance() }
      }
    }
    let text = String(String.UnicodeScalarView(scalars[start.index..<index]))
    var token = Token(kind: .invalid, text: text, line: start.line, column: start.column)
    if isInteger {
      if let value = Int(text) {
        token.kind = .integer(value)
      } else {
        report(token, "integer '\(text)' is too large", expected: "an integer of at most 19 digits")
      }
    } else if let value = Double(text), value.isFinite {
      token.kind = .number(value)
    } else {
      report(token, "number '\(text)' is out of range", expected: "a finite number")
    }
    return token
  }

  private mutating func report(_ token: Token, _ message: String, expected: String) {
    diagnostics.append(
      Diagnostic(at: SourceLocation(file: file, line: token.line, column: token.column), message, expected: expected))
  }
}
