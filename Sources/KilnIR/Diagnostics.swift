// Source locations and diagnostics shared by the frontend and every pass.

/// A position in a spec file: 1-based line and column.
public struct SourceLocation: Hashable, Sendable, Comparable, CustomStringConvertible {
  public var file: String
  public var line: Int
  public var column: Int

  public init(file: String, line: Int, column: Int) {
    self.file = file
    self.line = line
    self.column = column
  }

  public var description: String { "\(file):\(line):\(column)" }

  public static func < (a: SourceLocation, b: SourceLocation) -> Bool {
    (a.file, a.line, a.column) < (b.file, b.line, b.column)
  }
}

/// One problem found in a spec or a graph, with where it is and what was expected.
public struct Diagnostic: Error, Hashable, Sendable, CustomStringConvertible {
  public enum Severity: String, Sendable { case error, warning, note }

  public var severity: Severity
  public var location: SourceLocation?
  /// What is wrong, e.g. "unknown attribute 'filter' for conv".
  public var message: String
  /// What would have been right, e.g. "one of: filters, kernel, stride".
  public var expected: String?

  public init(_ severity: Severity = .error, at location: SourceLocation?, _ message: String, expected: String? = nil) {
    self.severity = severity
    self.location = location
    self.message = message
    self.expected = expected
  }

  /// `file:line:col: error: message; expected ...`, the format editors and compilers use.
  public var description: String {
    var s = location.map { "\($0): " } ?? ""
    s += "\(severity.rawValue): \(message)"
    if let expected { s += "; expected \(expected)" }
    return s
  }
}

/// Several diagnostics thrown together: a spec reports all its errors at once.
public struct DiagnosticError: Error, Sendable, CustomStringConvertible {
  public var diagnostics: [Diagnostic]
  public init(_ diagnostics: [Diagnostic]) { self.diagnostics = diagnostics }
  public var description: String { diagnostics.map(\.description).joined(separator: "\n") }
}
