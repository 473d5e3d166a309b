// The pass protocol and the manager that runs passes in order with the verifier after each.
import KilnIR

/// A transformation or analysis of a graph. Each pass lives in its own file.
public protocol GraphPass: Sendable {
  /// Stable kebab-case name, used by `--print-after` and `--disable-pass`.
  var name: String { get }
  /// Runs the pass; returns the problems it found. A pass that reports errors may leave the graph partly done.
  func run(on graph: inout Graph) -> [Diagnostic]
}

/// Runs an ordered list of passes, stopping at the first pass that reports an error.
public struct PassManager: Sendable {
  public var passes: [any GraphPass]
  /// Run `Verifier` after every pass (tests and debug builds).
  public var verifyAfterEachPass: Bool
  /// Called with the pass name and the graph after each pass (for `--print-after`).
  public var observer: (@Sendable (String, Graph) -> Void)?

  public init(passes: [any GraphPass], verifyAfterEachPass: Bool = Self.verifyByDefault) {
    self.passes = passes
    self.verifyAfterEachPass = verifyAfterEachPass
  }

  /// On in debug builds, off in release builds.
  public static var verifyByDefault: Bool {
    #if DEBUG
      return true
    #else
      return false
    #endif
  }

  /// The passes every network goes through before it is checked or run: the registry's required
  /// passes (shape-inference), which no option can turn off.
  public static var checking: [any GraphPass] {
    PassRegistry.passes.filter(\.isRequired).map { $0.make(.inference) }
  }

  /// Runs the pipeline; returns all diagnostics (errors stop the pipeline after the failing pass).
  public func run(_ graph: inout Graph) -> [Diagnostic] {
    var all: [Diagnostic] = []
    for pass in passes {
      let found = pass.run(on: &graph)
      all += found
      if found.contains(where: { $0.severity == .error }) { break }
      if verifyAfterEachPass {
        let problems = Verifier.verify(graph, requireTypes: true)
        if !problems.isEmpty {
          all += problems.map { d in
            var d = d
            d.message = "after pass '\(pass.name)': \(d.message)"
            return d
          }
          break
        }
      }
      observer?(pass.name, graph)
    }
    return all
  }
}
