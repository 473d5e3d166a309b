// A mini-FileCheck: CHECK, CHECK-NEXT and CHECK-NOT lines matched against a text, as LLVM's FileCheck does.

/// Checks a text against directives written as comments (`# CHECK: text`), by plain substring match.
///
/// - `CHECK: p` — some later line contains `p` (searching from the line after the previous match);
/// - `CHECK-NEXT: p` — the line right after the previous match contains `p`;
/// - `CHECK-NOT: p` — no line between the previous match and the next match (or the end) contains `p`.
public enum FileCheck {
  /// One directive and where it was written.
  public struct Directive: Hashable, Sendable {
    /// The three kinds of directive.
    public enum Kind: String, Hashable, Sendable {
      case check = "CHECK"
      case next = "CHECK-NEXT"
      case not = "CHECK-NOT"
    }
    /// Which directive this is.
    public var kind: Kind
    /// The text to look for, trimmed of surrounding spaces.
    public var pattern: String
    /// The 1-based line of the directive in its file.
    public var line: Int

    /// A directive of `kind` looking for `pattern`, written at `line`.
    public init(_ kind: Kind, _ pattern: String, line: Int) {
      self.kind = kind
      self.pattern = pattern
      self.line = line
    }
  }

  /// The directives of `source`: lines of the form `<comment> CHECK: …`, `CHECK-NEXT: …` or `CHECK-NOT: …`.
  public static func directives(in source: String, comment: String = "#") -> [Directive] {
    var result: [Directive] = []
    for (i, raw) in source.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
      let line = raw.trimmingSpaces()
      guard line.hasPrefix(comment) else { continue }
      let body = line.dropFirst(comment.count).trimmingSpaces()
      // Longest keyword first: "CHECK-NEXT:" also starts with "CHECK".
      for kind in [Directive.Kind.next, .not, .check] where body.hasPrefix(kind.rawValue + ":") {
        let pattern = body.dropFirst(kind.rawValue.count + 1).trimmingSpaces()
        result.append(Directive(kind, String(pattern), line: i + 1))
        break
      }
    }
    return result
  }

  /// Matches `directives` against `text`; returns one message per failure (empty when everything matched).
  /// A list without a positive directive fails: a check that looks for nothing proves nothing.
  public static func match(_ directives: [Directive], against text: String) -> [String] {
    let lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
    guard directives.contains(where: { $0.kind != .not }) else {
      return ["no CHECK or CHECK-NEXT directive: there is nothing to match"]
    }
    var failures: [String] = []
    var next = 0  // the first line a CHECK may match
    var previous: Int? = nil  // the line of the previous match
    var pendingNots: [Directive] = []

    func checkNots(upTo end: Int) {
      for d in pendingNots {
        if let hit = (next..<max(next, end)).first(where: { lines[$0].contains(d.pattern) }) {
          failures.append("line \(d.line): CHECK-NOT: '\(d.pattern)' found on output line \(hit + 1): \(lines[hit])")
        }
      }
      pendingNots = []
    }

    for d in directives {
      switch d.kind {
      case .not:
        pendingNots.append(d)
      case .check:
        guard let hit = (next..<lines.count).first(where: { lines[$0].contains(d.pattern) }) else {
          failures.append("line \(d.line): CHECK: '\(d.pattern)' not found after output line \(next)")
          return failures
        }
        checkNots(upTo: hit)
        previous = hit
        next = hit + 1
      case .next:
        guard let p = previous else {
          failures.append("line \(d.line): CHECK-NEXT: '\(d.pattern)' has no previous match to follow")
          return failures
        }
        let hit = p + 1
        guard hit < lines.count, lines[hit].contains(d.pattern) else {
          let found = hit < lines.count ? lines[hit] : "the end of the output"
          failures.append("line \(d.line): CHECK-NEXT: '\(d.pattern)' not on output line \(hit + 1), which is: \(found)")
          return failures
        }
        checkNots(upTo: hit)
        previous = hit
        next = hit + 1
      }
    }
    checkNots(upTo: lines.count)
    return failures
  }
}

extension StringProtocol {
  fileprivate func trimmingSpaces() -> SubSequence {
    let start = firstIndex { $0 != " " && $0 != "\t" } ?? endIndex
    let end = lastIndex { $0 != " " && $0 != "\t" }.map { index(after: $0) } ?? start
    return self[start..<end]
  }
}
