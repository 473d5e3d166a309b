// Loading a network: parse the spec, then run the checking passes, gathering every diagnostic.
import KilnFrontend
import KilnIR
import KilnPasses

/// A spec that has been parsed and shape-checked.
public struct LoadedNetwork: Sendable {
  /// The graph with every node's type inferred; nil when the spec has errors.
  public var graph: Graph?
  /// Every error and warning of the spec, sorted by location.
  public var diagnostics: [Diagnostic]
  public var hasErrors: Bool { diagnostics.contains { $0.severity == .error } }
}

/// Parses specs and runs the checking pipeline (shape inference), so that one call reports all of a spec's errors.
public enum NetworkLoader {
  /// Loads the spec at `path`.
  public static func load(path: String) -> LoadedNetwork {
    finish(Frontend.parse(contentsOf: path))
  }

  /// Loads spec text; `file` names it in diagnostics.
  public static func load(source: String, file: String) -> LoadedNetwork {
    finish(Frontend.parse(source, file: file))
  }

  /// Loads the spec at `path` or throws all its diagnostics.
  public static func graph(path: String) throws -> Graph {
    let loaded = load(path: path)
    guard let g = loaded.graph, !loaded.hasErrors else { throw DiagnosticError(loaded.diagnostics) }
    return g
  }

  static func finish(_ parsed: ParseResult) -> LoadedNetwork {
    var diagnostics = parsed.diagnostics
    guard var graph = parsed.graph else { return LoadedNetwork(graph: nil, diagnostics: diagnostics) }
    // Shape errors are worth reporting even when parsing found problems: the frontend leaves bad layers
    // (and what reads them) out of the graph, so what remains is sound to check.
    let manager = PassManager(passes: PassManager.checking, verifyAfterEachPass: diagnostics.isEmpty)
    diagnostics += manager.run(&graph)
    diagnostics.sort { ($0.location ?? .init(file: "", line: 0, column: 0)) < ($1.location ?? .init(file: "", line: 0, column: 0)) }
    let ok = !diagnostics.contains { $0.severity == .error }
    return LoadedNetwork(graph: ok ? graph : nil, diagnostics: diagnostics)
  }
}
