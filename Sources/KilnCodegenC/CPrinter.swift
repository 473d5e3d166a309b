// A small indenting printer for C structure and glue: the only way Swift writes C outside the templates.

/// Builds C source line by line with managed indentation, so structure is never assembled by concatenation.
public struct CPrinter: Sendable {
  private(set) var lines: [String] = []
  private var depth = 0
  /// Spaces per indentation level.
  public var indentWidth = 2

  public init() {}

  /// The printed text, ending with a newline.
  public var text: String { lines.joined(separator: "\n") + "\n" }

  /// One line at the current indentation (an empty string gives an empty line).
  public mutating func line(_ s: String = "") {
    lines.append(s.isEmpty ? "" : String(repeating: " ", count: depth * indentWidth) + s)
  }

  /// Several lines of already-formatted text (a rendered template), each re-indented to the current depth.
  public mutating func text(_ block: String) {
    var body = block.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
    if body.last == "" { body.removeLast() }
    for l in body { line(l.trimmingTrailingWhitespace()) }
  }

  /// `// comment` lines; a multi-line comment gives one `//` line per line.
  public mutating func comment(_ s: String) {
    for l in s.split(separator: "\n", omittingEmptySubsequences: false) { line(("// " + l).trimmingTrailingWhitespace()) }
  }

  /// `head {` … `}tail`, with the body indented one level.
  public mutating func block(_ head: String, tail: String = "", _ body: (inout CPrinter) -> Void) {
    line(head + " {")
    depth += 1
    body(&self)
    depth -= 1
    line("}" + tail)
  }

  /// A C function definition.
  public mutating func function(_ signature: String, _ body: (inout CPrinter) -> Void) {
    block(signature, body)
    line()
  }

  /// `#define NAME value`.
  public mutating func define(_ name: String, _ value: String) { lines.append("#define \(name) \(value)") }

  /// A preprocessor line, never indented.
  public mutating func directive(_ s: String) { lines.append(s) }

  /// Code that runs once per load or per call's set-up (the runtime, weight loading, the API), which gcc then
  /// compiles at -O1 whatever the module's -O level: at -O3 it took a large part of a small module's compile
  /// (gcc 12: the smallest example, almost all runtime, 1.0 s at -O3 against 0.4 s at -O0; LeNet-5's C
  /// 1.52–2.33 s of CPU before, 1.12–1.67 s after, runs alternating in one shell) and its speed does not
  /// matter. Not with clang (no such pragma) or without optimization (-O0 stays -O0). Kernels and the call
  /// sequence stay outside, as does anything they call.
  public mutating func coldCode(_ body: (inout CPrinter) throws -> Void) rethrows {
    let guardLine =
      "#if defined(__GNUC__) && !defined(__clang__) && defined(__OPTIMIZE__) && !defined(__OPTIMIZE_SIZE__)"
    directive(guardLine)
    directive("#pragma GCC push_options")
    directive("#pragma GCC optimize (\"O1\") /* run once per load or call: see CPrinter.coldCode */")
    directive("#endif")
    try body(&self)
    directive(guardLine)
    directive("#pragma GCC pop_options")
    directive("#endif")
  }
}

extension String {
  func trimmingTrailingWhitespace() -> String {
    var s = Substring(self)
    while let last = s.last, last == " " || last == "\t" { s.removeLast() }
    return String(s)
  }
}
