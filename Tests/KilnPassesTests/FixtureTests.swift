// Lit-style pass fixtures: each Fixtures/**/*.kiln runs its RUN passes and is checked by its CHECK lines.
import Foundation
import KilnFrontend
import KilnIR
import KilnPasses
import KilnTestSupport
import Testing

/// One fixture file: a spec, a `# RUN:` line naming passes, and CHECK directives on the dump after them.
struct Fixture: Sendable, CustomTestStringConvertible {
  /// The path below Fixtures/, e.g. `eliminate-dead/unused-branch.kiln`.
  let path: String
  let source: String
  var testDescription: String { path }

  static let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures")

  /// Every fixture, sorted by path.
  static func all() -> [Fixture] {
    let files = FileManager.default.enumerator(atPath: directory.path)?.compactMap { $0 as? String } ?? []
    return files.filter { $0.hasSuffix(".kiln") }.sorted().compactMap { path in
      (try? String(contentsOf: directory.appendingPathComponent(path), encoding: .utf8)).map {
        Fixture(path: path, source: $0)
      }
    }
  }

  /// The `# RUN:` line: pass names in order, optionally `--mode=training`.
  func runLine() throws -> (passes: [String], mode: PipelineMode) {
    let runs = source.split(separator: "\n").filter { $0.hasPrefix("# RUN:") }
    guard runs.count == 1, let run = runs.first else {
      throw FixtureError("\(path): needs exactly one '# RUN: <passes>' line, found \(runs.count)")
    }
    var mode = PipelineMode.inference
    var passes: [String] = []
    for word in run.dropFirst("# RUN:".count).split(separator: " ") {
      if word.hasPrefix("--mode=") {
        guard let m = PipelineMode(rawValue: String(word.dropFirst("--mode=".count))) else {
          throw FixtureError("\(path): unknown mode in '\(word)'")
        }
        mode = m
      } else {
        passes.append(String(word))
      }
    }
    guard !passes.isEmpty else { throw FixtureError("\(path): the RUN line names no pass") }
    return (passes, mode)
  }

  /// The spec's graph, as the frontend builds it (no pass has run).
  func parse() throws -> Graph {
    let parsed = Frontend.parse(source, file: path)
    guard let graph = parsed.graph, !parsed.diagnostics.contains(where: { $0.severity == .error }) else {
      throw DiagnosticError(parsed.diagnostics)
    }
    return graph
  }

  /// The graph after the RUN passes, with the verifier after each.
  func run() throws -> Graph {
    let (passes, mode) = try runLine()
    var options = PassOptions()
    options.mode = mode
    options.verify = true
    var graph = try parse()
    let diagnostics = try Pipeline(running: passes, options: options).run(&graph)
    guard !diagnostics.contains(where: { $0.severity == .error }) else { throw DiagnosticError(diagnostics) }
    return graph
  }
}

struct FixtureError: Error, CustomStringConvertible {
  var description: String
  init(_ description: String) { self.description = description }
}

@Suite struct FixtureTests {
  @Test(arguments: Fixture.all())
  func fixture(_ fixture: Fixture) throws {
    let directives = FileCheck.directives(in: fixture.source)
    #expect(!directives.isEmpty, "\(fixture.path) has no CHECK lines")
    let dump = try fixture.run().dump()
    for failure in FileCheck.match(directives, against: dump) {
      Issue.record("\(fixture.path):\(failure)\n--- the IR after the RUN passes ---\n\(dump)")
    }
  }

  @Test func everyPassHasAtLeastThreeFixtures() throws {
    let fixtures = Fixture.all()
    #expect(fixtures.count >= 6)
    var count: [String: Int] = [:]
    for f in fixtures { for pass in Set(try f.runLine().passes) { count[pass, default: 0] += 1 } }
    for name in PassRegistry.names {
      #expect(count[name, default: 0] >= 3, "pass '\(name)' has \(count[name, default: 0]) fixtures")
    }
  }

  @Test func aFixtureWithAnUnknownPassIsAClearError() throws {
    let f = Fixture(path: "bad.kiln", source: "# RUN: shape-inference fold-everything\nnetwork n\ninput x: f32[2]\noutput y\n")
    #expect(throws: PipelineError.self) { try f.run() }
    let none = Fixture(path: "none.kiln", source: "network n\ninput x: f32[2]\noutput y\n")
    #expect(throws: FixtureError.self) { try none.run() }
  }
}
