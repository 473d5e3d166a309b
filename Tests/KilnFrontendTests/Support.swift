// Helpers shared by the frontend tests: parsing with a fixed file name and checking diagnostics.

import KilnFrontend
import KilnIR
import Testing

/// The file name every test spec is parsed under.
let testFile = "t.kiln"

/// Parses spec text under `testFile`.
func parse(_ text: String) -> ParseResult { Frontend.parse(text, file: testFile) }

/// Parses a spec that must have no diagnostics and must pass the verifier; returns its graph.
func parseClean(_ text: String, sourceLocation: Testing.SourceLocation = #_sourceLocation) -> Graph? {
  let result = parse(text)
  #expect(result.diagnostics.map(\.description) == [], sourceLocation: sourceLocation)
  guard let graph = result.graph else {
    Issue.record("no graph", sourceLocation: sourceLocation)
    return nil
  }
  #expect(Verifier.verify(graph).map(\.description) == [], sourceLocation: sourceLocation)
  return graph
}

/// The rendered diagnostics of a spec, `t.kiln:3:5: error: …; expected …`.
func diagnostics(_ text: String) -> [String] { parse(text).diagnostics.map(\.description) }

/// Expects exactly one diagnostic, at `line:column`, whose text contains every fragment.
func expectOneDiagnostic(
  _ text: String, at line: Int, _ column: Int, _ fragments: String...,
  sourceLocation: Testing.SourceLocation = #_sourceLocation
) {
  let found = parse(text).diagnostics
  #expect(found.count == 1, "\(found.map(\.description))", sourceLocation: sourceLocation)
  guard let d = found.first else { return }
  #expect(d.location?.line == line && d.location?.column == column, "\(d)", sourceLocation: sourceLocation)
  for fragment in fragments {
    #expect(d.description.contains(fragment), "'\(fragment)' not in: \(d)", sourceLocation: sourceLocation)
  }
}

/// A spec around one layer line: an input `x: f32[3, 8, 8]`, the line, and an output.
func layerSpec(_ line: String) -> String {
  "network t\ninput x: f32[3, 8, 8]\n\(line)\noutput y\n"
}

/// The op of the single layer in `layerSpec(line)`, when it parses cleanly.
func layerOp(_ line: String, sourceLocation: Testing.SourceLocation = #_sourceLocation) -> Op? {
  guard let g = parseClean(layerSpec(line), sourceLocation: sourceLocation) else { return nil }
  #expect(g.nodes.count == 2, sourceLocation: sourceLocation)
  return g.nodes.last?.op
}

/// The graph without source locations, to compare with graphs built by hand.
func withoutLocations(_ graph: Graph) -> Graph {
  var g = graph
  for i in g.nodes.indices { g.nodes[i].location = nil }
  for i in g.outputs.indices { g.outputs[i].location = nil }
  g.training?.location = nil
  return g
}

/// The node names of a graph in order.
func names(_ graph: Graph?) -> [String] { graph?.nodes.map(\.name) ?? [] }
