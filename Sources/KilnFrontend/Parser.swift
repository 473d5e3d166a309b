// The spec parser: tokens -> statements, recovering at the next line after an error so every error is reported.

import KilnIR

/// Builds statements from tokens. A statement with a syntax error is kept, marked broken, so the graph
/// builder can leave it (and whatever reads it) out without further noise.
struct Parser {
  /// Thrown after a diagnostic has been recorded; `resumeAt` is a token index where parsing can go on
  /// (an unterminated bracket resumes at the line that showed it), nil to skip to the next line.
  private struct Failure: Error { var resumeAt: Int? }

  /// How deeply brackets may nest inside one value.
  static let maximumNesting = 32

  /// Words that start a statement other than a layer.
  static let statementKeywords: Set<String> = ["network", "input", "output", "train"]

  private let tokens: [Token]
  private let file: String
  private var index = 0
  /// Value brackets open at the current position, innermost last.
  private var openBrackets: [Token] = []
  private(set) var diagnostics: [Diagnostic] = []

  init(tokens: [Token], file: String) {
    self.tokens = tokens
    self.file = file
  }

  /// Every statement of the file, in source order.
  mutating func parseFile() -> [Statement] {
    var statements: [Statement] = []
    while true {
      skipNewlines()
      if peek.kind == .end { break }
      let start = index
      statements.append(parseStatement())
      if index == start { index += 1 }  // NOTE: guarantees progress whatever a statement parser did.
    }
    return statements
  }

  // MARK: Statements

  private mutating func parseStatement() -> Statement {
    let first = peek
    switch first.identifier {
    case "network": return parseNetwork()
    case "input": return .input(parseInput())
    case "output": return .output(parseOutput())
    case "train": return .train(parseTrain())
    case .some: return .layer(parseLayer())
    case nil:
      if first.kind != .invalid {
        report(first, "unexpected \(first.description)", expected: "a statement: network, input, a layer, output or train")
      }
      recover(Failure(resumeAt: nil))
      // Unreadable text stands where a layer could be: what follows it sequentially is left out quietly.
      return .layer(LayerStatement(keyword: name(first), isBroken: true))
    }
  }

  private mutating func parseNetwork() -> Statement {
    let keyword = advance()
    var networkName: Name?
    do {
      networkName = try expectIdentifier(expected: "the network's name after 'network'")
      try expectEndOfStatement(expected: "the end of the line after the network's name")
    } catch {
      recover(error)
    }
    return .network(location: location(keyword), name: networkName)
  }

  private mutating func parseInput() -> InputStatement {
    var s = InputStatement(location: location(advance()))
    do {
      s.name = try expectIdentifier(expected: "the input's name after 'input'")
      try expect(.colon, expected: "':' and a type after the input's name, e.g. 'input image: f32[1, 28, 28]'")
      s.dtype = try expectIdentifier(expected: "an element type such as f32")
      guard peek.kind == .leftBracket else {
        throw unexpected(peek, expected: "'[' and the per-sample dimensions, e.g. f32[1, 28, 28]")
      }
      s.dimsLocation = location(peek)
      s.dims = try parseList(close: .rightBracket) { try $0.parseValue() }
      try expectEndOfStatement(expected: "the end of the line after the input's type")
    } catch {
      s.isBroken = true
      recover(error)
    }
    return s
  }

  private mutating func parseOutput() -> OutputStatement {
    var s = OutputStatement(location: location(advance()))
    do {
      s.name = try expectIdentifier(expected: "the output's name after 'output'")
      if peek.kind == .arrow {
        advance()
        s.source = try expectIdentifier(expected: "the name of the value to output after '<-'")
      }
      try expectEndOfStatement(expected: "'<- VALUE' or the end of the line after the output's name")
    } catch {
      s.isBroken = true
      recover(error)
    }
    return s
  }

  private mutating func parseLayer() -> LayerStatement {
    var s = LayerStatement(keyword: name(advance()))
    do {
      var allowed = ["a layer name", "'(' and attributes", "'<-' and input names", "the end of the line"]
      if case .identifier = peek.kind {
        s.name = name(advance())
        allowed.removeFirst()
      }
      if peek.kind == .leftParen {
        s.attributes = try parseList(close: .rightParen) { try $0.parseAttribute() }
        allowed.removeFirst(allowed.count - 2)
      }
      if peek.kind == .arrow {
        advance()
        var sources = [try expectIdentifier(expected: "the name of an input value after '<-'")]
        while peek.kind == .comma {
          advance()
          sources.append(try expectIdentifier(expected: "the name of an input value after ','"))
        }
        s.sources = sources
        allowed = ["',' and another input name", "the end of the line"]
      }
      try expectEndOfStatement(expected: allowed.joined(separator: ", "))
    } catch {
      s.isBroken = true
      recover(error)
    }
    return s
  }

  private mutating func parseTrain() -> TrainStatement {
    var s = TrainStatement(location: location(advance()))
    guard peek.kind == .leftBrace else {
      if peek.kind != .invalid { report(peek, "unexpected \(peek.description)", expected: "'{' after 'train'") }
      s.isBroken = true
      recover(Failure(resumeAt: nil))
      return s
    }
    let open = advance()
    while true {
      while peek.kind == .newline || peek.kind == .comma { advance() }
      let t = peek
      if t.kind == .rightBrace {
        advance()
        break
      }
      if t.kind == .end || startsStatementHere {
        // A statement where a setting should be: the '}' is missing. Go on with that statement.
        let before = t.kind == .end ? "the end of the file" : "\(t.description) on line \(t.line)"
        report(open, "unterminated '{' of the train section", expected: "'}' to close it before \(before)")
        s.isBroken = true
        return s
      }
      do {
        let key = try expectIdentifier(expected: "a training setting 'key: value' or '}'")
        if peek.kind == .colon || peek.kind == .equals {
          advance()
        } else {
          throw unexpected(peek, expected: "':' after the setting '\(key.text)'")
        }
        let value = try parseValue()
        switch peek.kind {
        case .newline, .comma: advance()
        case .rightBrace, .end: break
        default: throw unexpected(peek, expected: "the end of the line after the value of '\(key.text)'")
        }
        s.entries.append((key, value))
      } catch {
        s.isBroken = true
        recover(error, stopAtBrace: true)
      }
    }
    do {
      try expectEndOfStatement(expected: "the end of the line after '}'")
    } catch {
      recover(error)
    }
    return s
  }

  /// Whether the next token looks like the start of a statement (a keyword not followed by ':'), which
  /// after a line break inside a list means the list's closing bracket is missing.
  private var startsStatementHere: Bool {
    let next = tokens[min(index + 1, tokens.count - 1)].kind
    return peek.identifier.map(Self.startsStatement) == true && next != .colon && next != .equals
  }

  private static func startsStatement(_ word: String) -> Bool {
    statementKeywords.contains(word) || LayerCatalog.entry(for: word) != nil
  }

  // MARK: Values

  /// `key: value` inside a layer's parentheses.
  private mutating func parseAttribute() throws -> Argument {
    let key = try expectIdentifier(expected: "an attribute 'name: value'")
    guard peek.kind == .colon || peek.kind == .equals else {
      throw unexpected(peek, expected: "':' after the attribute name '\(key.text)'")
    }
    advance()
    return Argument(key: key, value: try parseValue())
  }

  /// `key: value` or a positional value inside a call's parentheses.
  private mutating func parseArgument() throws -> Argument {
    let next = tokens[min(index + 1, tokens.count - 1)].kind
    if case .identifier = peek.kind, next == .colon || next == .equals {
      let key = name(advance())
      advance()
      return Argument(key: key, value: try parseValue())
    }
    return Argument(key: nil, value: try parseValue())
  }

  private mutating func parseValue() throws -> Value {
    let t = peek
    let at = location(t)
    switch t.kind {
    case .integer(let v):
      advance()
      return Value(kind: .integer(v), location: at, text: t.text)
    case .number(let v):
      advance()
      return Value(kind: .number(v), location: at, text: t.text)
    case .identifier(let word):
      advance()
      if word == "true" || word == "false" { return Value(kind: .boolean(word == "true"), location: at, text: word) }
      guard peek.kind == .leftParen else { return Value(kind: .name(word), location: at, text: word) }
      let arguments = try parseList(close: .rightParen) { try $0.parseArgument() }
      let shown = arguments.map { a in a.key.map { "\($0.text): \(a.value.text)" } ?? a.value.text }
      return Value(kind: .call(word, arguments), location: at, text: "\(word)(\(shown.joined(separator: ", ")))")
    case .leftBracket:
      let items = try parseList(close: .rightBracket) { try $0.parseValue() }
      return Value(kind: .list(items), location: at, text: "[\(items.map(\.text).joined(separator: ", "))]")
    case .invalid:
      throw Failure(resumeAt: nil)
    default:
      throw unexpected(t, expected: "a value: a number, true or false, a name, a call such as leaky_relu(0.1), or a list [...]")
    }
  }

  /// A bracketed, comma-separated list; newlines inside it are ignored (continuation lines).
  private mutating func parseList<T>(close: TokenKind, element: (inout Parser) throws -> T) throws -> [T] {
    // NOTE: values are parsed recursively; a nesting limit keeps hostile input from exhausting the stack.
    guard openBrackets.count < Self.maximumNesting else {
      throw unexpected(peek, expected: "at most \(Self.maximumNesting) brackets nested in one value")
    }
    let open = advance()
    let closeText = close == .rightParen ? ")" : "]"
    openBrackets.append(open)
    var items: [T] = []
    var skippedLine = skipNewlines()
    while true {
      if peek.kind == close {
        advance()
        openBrackets.removeLast()
        return items
      }
      if peek.kind == .end || (skippedLine && startsStatementHere) { throw unterminated(open, closeText) }
      items.append(try element(&self))
      let crossedLine = skipNewlines()
      skippedLine = false
      if peek.kind == .comma {
        advance()
        skippedLine = skipNewlines()
      } else if peek.kind != close {
        if crossedLine || peek.kind == .end { throw unterminated(open, closeText) }
        if peek.kind == .invalid { throw Failure(resumeAt: nil) }
        throw unexpected(peek, expected: "',' or '\(closeText)'")
      }
    }
  }

  // MARK: Tokens and recovery

  private var peek: Token { tokens[index] }

  @discardableResult
  private mutating func advance() -> Token {
    let t = tokens[index]
    if index < tokens.count - 1 { index += 1 }
    return t
  }

  /// Skips newline tokens; tells whether it skipped any.
  @discardableResult
  private mutating func skipNewlines() -> Bool {
    var skipped = false
    while peek.kind == .newline {
      advance()
      skipped = true
    }
    return skipped
  }

  private func location(_ t: Token) -> SourceLocation { SourceLocation(file: file, line: t.line, column: t.column) }
  private func name(_ t: Token) -> Name { Name(text: t.text, location: location(t)) }

  private mutating func expectIdentifier(expected: String) throws -> Name {
    guard case .identifier = peek.kind else { throw unexpected(peek, expected: expected) }
    return name(advance())
  }

  private mutating func expect(_ kind: TokenKind, expected: String) throws {
    guard peek.kind == kind else { throw unexpected(peek, expected: expected) }
    advance()
  }

  private mutating func expectEndOfStatement(expected: String) throws {
    switch peek.kind {
    case .newline: advance()
    case .end: break
    default: throw unexpected(peek, expected: expected)
    }
  }

  private mutating func report(_ t: Token, _ message: String, expected: String) {
    diagnostics.append(Diagnostic(at: location(t), message, expected: expected))
  }

  /// Reports an unexpected token (unless the lexer already reported it) and returns the failure to throw.
  private mutating func unexpected(_ t: Token, expected: String) -> Failure {
    if t.kind != .invalid { report(t, "unexpected \(t.description)", expected: expected) }
    return Failure(resumeAt: nil)
  }

  /// Reports a bracket left open at `open`; parsing resumes at the line where the list stopped making sense.
  private mutating func unterminated(_ open: Token, _ closeText: String) -> Failure {
    let before = peek.kind == .end ? "the end of the file" : "\(peek.description) on line \(peek.line)"
    report(open, "unterminated '\(open.text)'", expected: "'\(closeText)' to close it before \(before)")
    return Failure(resumeAt: peek.kind == .end ? nil : index)
  }

  /// Skips the rest of a broken statement: to the end of its line, or past the continuation lines of a
  /// bracket left open (stopping early at a line that starts in column 1, which is a new statement).
  private mutating func recover(_ error: Error, stopAtBrace: Bool = false) {
    var depth = openBrackets.count
    openBrackets = []
    if let resume = (error as? Failure)?.resumeAt {
      index = resume
      return
    }
    while true {
      switch peek.kind {
      case .end:
        return
      case .newline:
        advance()
        if depth <= 0 || peek.column == 1 { return }
      case .leftParen, .leftBracket, .leftBrace:
        depth += 1
        advance()
      case .rightBrace where stopAtBrace && depth <= 0:
        return
      case .rightParen, .rightBracket, .rightBrace:
        depth = max(0, depth - 1)
        advance()
      default:
        advance()
      }
    }
  }
}
