// The pass registry and the pipeline: names, modes, options, printing, and the verifier after every pass.
import KilnFrontend
import KilnIR
import KilnPasses
import Foundation
import Testing

/// What a test printer received, safe to append to from the pipeline's @Sendable printer.
final class Printed: @unchecked Sendable {
  private let lock = NSLock()
  private var lines: [String] = []
  func append(_ text: String) { lock.withLock { lines.append(text) } }
  func take() -> [String] { lock.withLock { defer { lines = [] }; return lines } }
}

/// A pass that changes nothing, to build registries with passes Kiln does not have yet.
struct NoOpPass: GraphPass {
  let name: String
  func run(on graph: inout Graph) -> [Diagnostic] { [] }
}

/// A pass that breaks the graph: its first non-input node reads itself.
struct CorruptingPass: GraphPass {
  let name = "corrupt"
  func run(on graph: inout Graph) -> [Diagnostic] {
    if let i = graph.nodes.firstIndex(where: { !$0.inputs.isEmpty }) { graph.nodes[i].inputs[0] = NodeID(i) }
    return []
  }
}

func registered(_ name: String, modes: Set<PipelineMode> = [.inference, .training], fusion: Bool = false) -> RegisteredPass {
  RegisteredPass(name: name, why: "test", modes: modes, isFusion: fusion) { _ in NoOpPass(name: name) }
}

func spec(_ source: String) throws -> Graph {
  let parsed = Frontend.parse(source, file: "t.kiln")
  guard let g = parsed.graph, parsed.diagnostics.isEmpty else { throw DiagnosticError(parsed.diagnostics) }
  return g
}

@Suite struct PipelineTests {
  @Test func registryNamesAreUniqueKebabCaseAndMatchThePasses() {
    let names = PassRegistry.names
    #expect(Set(names).count == names.count)
    for pass in PassRegistry.passes {
      #expect(pass.name.allSatisfy { $0.isLowercase || $0 == "-" }, "\(pass.name) is not kebab-case")
      #expect(!pass.modes.isEmpty, "\(pass.name) is legal nowhere")
      #expect(!pass.why.isEmpty && !pass.why.contains("\n"))
      for mode in pass.modes { #expect(pass.make(mode).name == pass.name) }
    }
    #expect(PassRegistry.pass(named: "shape-inference")?.isRequired == true)
    #expect(PassRegistry.passes.first?.name == "shape-inference")
  }

  @Test func theInferencePipelineIsInRegistryOrder() throws {
    let p = try Pipeline(options: PassOptions())
    #expect(p.names == ["shape-inference", "eliminate-dead", "remove-identities", "fold-batchnorm", "fuse-epilogues"])
    #expect(PassManager.checking.map(\.name) == ["shape-inference"])
    // --no-fuse leaves out both fusion passes: batch norms and activations keep kernels of their own.
    var unfused = PassOptions()
    unfused.fuse = false
    #expect(try Pipeline(options: unfused).names == ["shape-inference", "eliminate-dead", "remove-identities"])
  }

  @Test func disablingAPassLeavesItOut() throws {
    var o = PassOptions()
    o.disabled = ["eliminate-dead"]
    #expect(try Pipeline(options: o).names == ["shape-inference", "remove-identities", "fold-batchnorm", "fuse-epilogues"])
  }

  @Test func unknownAndRequiredPassNamesAreClearErrors() {
    var o = PassOptions()
    o.disabled = ["fold-everything"]
    #expect(throws: PipelineError.self) { try Pipeline(options: o) }
    do {
      _ = try Pipeline(options: o)
    } catch {
      #expect(error.description.contains("unknown pass 'fold-everything'"))
      #expect(error.description.contains("shape-inference, eliminate-dead, remove-identities"))
    }
    o.disabled = ["shape-inference"]
    do {
      _ = try Pipeline(options: o)
      Issue.record("disabling shape-inference was accepted")
    } catch {
      #expect(error.description.contains("'shape-inference' cannot be disabled"))
    }
    o.disabled = []
    o.printAfter = ["nothing"]
    #expect(throws: PipelineError.self) { try Pipeline(options: o) }
    o.disabled = ["remove-identities"]
    o.printAfter = ["remove-identities"]
    #expect(throws: PipelineError.self) { try Pipeline(options: o) }
  }

  @Test func noFuseDisablesExactlyTheFusionPasses() throws {
    let registry = [
      PassRegistry.passes[0], registered("fold-something"), registered("fuse-something", fusion: true),
      registered("fuse-more", fusion: true),
    ]
    var o = PassOptions()
    #expect(try Pipeline(options: o, registry: registry).names.count == 4)
    o.fuse = false
    #expect(try Pipeline(options: o, registry: registry).names == ["shape-inference", "fold-something"])
    // In the real registry --no-fuse leaves out exactly fold-batchnorm and fuse-epilogues.
    let fusion: Set = ["fold-batchnorm", "fuse-epilogues"]
    #expect(Set(PassRegistry.passes.filter(\.isFusion).map(\.name)) == fusion)
    #expect(try Pipeline(options: PassOptions()).names.filter { !fusion.contains($0) } == Pipeline(options: o).names)
  }

  @Test func eachModeRunsOnlyThePassesLegalInIt() throws {
    let registry = [PassRegistry.passes[0], registered("inference-only", modes: [.inference]), registered("both")]
    var o = PassOptions()
    o.mode = .training
    #expect(try Pipeline(options: o, registry: registry).names == ["shape-inference", "both"])
    #expect(throws: PipelineError.self) { try Pipeline(running: ["inference-only"], options: o, registry: registry) }
    o.mode = .inference
    #expect(try Pipeline(running: ["both", "inference-only"], options: o, registry: registry).names == ["both", "inference-only"])
  }

  @Test func printAfterPrintsTheDumpAfterTheNamedPasses() throws {
    let graph = try spec("network n\ninput x: f32[4]\ndropout d (rate: 0.5)\nrelu r\noutput y\n")
    let printed = Printed()
    var o = PassOptions()
    o.printer = { printed.append($0) }
    o.printAfter = ["remove-identities"]
    var g = graph
    #expect(try Pipeline(options: o).run(&g).isEmpty)
    let one = printed.take()
    #expect(one == ["// IR after remove-identities\n\(g.dump())"])
    #expect(one.first?.contains("dropout") == false)

    o.printAfter = ["all"]
    var h = graph
    _ = try Pipeline(options: o).run(&h)
    let all = printed.take()
    let inference = PassRegistry.passes.filter { $0.modes.contains(.inference) }.map(\.name)
    #expect(all.map { $0.split(separator: "\n")[0] } == inference.map { "// IR after \($0)" })
    #expect(all[0].contains("dropout d(%0)"))
  }

  @Test func theVerifierRunsAfterEveryPass() throws {
    let registry = PassRegistry.passes + [RegisteredPass(name: "corrupt", why: "test", modes: [.inference]) { _ in CorruptingPass() }]
    var o = PassOptions()
    o.verify = true
    var g = try spec("network n\ninput x: f32[4]\nrelu r\noutput y\n")
    let diagnostics = try Pipeline(options: o, registry: registry).run(&g)
    #expect(diagnostics.contains { $0.severity == .error && $0.message.contains("after pass 'corrupt'") })
  }

  @Test func aShapeErrorStopsThePipelineBeforeTheLaterPasses() throws {
    let printed = Printed()
    var o = PassOptions()
    o.printAfter = ["all"]
    o.printer = { printed.append($0) }
    var g = try spec("network n\ninput x: f32[4]\nconv c (filters: 2, kernel: 3)\noutput y\n")
    let diagnostics = try Pipeline(options: o).run(&g)
    #expect(diagnostics.contains { $0.severity == .error && $0.message.contains("conv 'c'") })
    #expect(printed.take().isEmpty)
  }
}
