// The frontend's public entry points: spec text or a spec file -> graph and located diagnostics.

import Foundation
import KilnIR

/// What parsing a spec produced: the graph built from everything that could be understood, and every problem found.
public struct ParseResult: Sendable {
  /// The graph; nil only when there was nothing usable (no `network` line).
  public var graph: Graph?
  /// Every diagnostic of the file, sorted by location.
  public var diagnostics: [Diagnostic]

  /// Creates a result from a graph and its diagnostics.
  public init(graph: Graph?, diagnostics: [Diagnostic]) {
    self.graph = graph
    self.diagnostics = diagnostics
  }

  /// Whether any diagnostic is an error (the graph is then incomplete and must not be compiled).
  public var hasErrors: Bool { diagnostics.contains { $0.severity == .error } }
}

/// The `.kiln` spec frontend: lexer -> parser -> semantic checks -> untyped `Graph` (no shape inference).
public enum Frontend {
  /// Parses spec text. Always returns every diagnostic found (all errors of a file at once, sorted by location),
  /// and the graph built from everything that could be understood (nil only when nothing usable, e.g. no `network` line).
  /// - Parameters:
  ///   - source: the spec text.
  ///   - file: the file name diagnostics carry.
  public static func parse(_ source: String, file: String) -> ParseResult {
    var lexer = Lexer(source, file: file)
    let tokens = lexer.tokenize()
    var parser = Parser(tokens: tokens, file: file)
    let statements = parser.parseFile()
    var builder = GraphBuilder(file: file)
    let graph = builder.build(statements)
    let all = lexer.diagnostics + parser.diagnostics + builder.diagnostics
    // A stable sort: diagnostics at one location keep the order they were found in.
    let sorted = all.enumerated().sorted { a, b in
      let (la, lb) = (a.element.location, b.element.location)
      switch (la, lb) {
      case (let x?, let y?) where x != y: return x < y
      case (nil, _?): return true
      case (_?, nil): return false
      default: return a.offset < b.offset
      }
    }.map(\.element)
    return ParseResult(graph: graph, diagnostics: sorted)
  }

  /// Reads a file and parses it; a file that cannot be read (or is not UTF-8 text) becomes one diagnostic.
  public static func parse(contentsOf path: String) -> ParseResult {
    guard let data = FileManager.default.contents(atPath: path) else {
      let reason = FileManager.default.fileExists(atPath: path) ? "it cannot be read" : "it does not exist"
      return ParseResult(
        graph: nil,
        diagnostics: [Diagnostic(at: nil, "cannot read spec file '\(path)': \(reason)", expected: "a readable .kiln file")])
    }
    guard let text = String(data: data, encoding: .utf8) else {
      return ParseResult(
        graph: nil,
        diagnostics: [
          Diagnostic(at: SourceLocation(file: path, line: 1, column: 1), "spec file '\(path)' is not UTF-8 text",
            expected: "a UTF-8 encoded .kiln file")
        ])
    }
    return parse(text, file: path)
  }
}
