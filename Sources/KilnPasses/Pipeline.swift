// The pass pipeline: which registered passes run for a mode and a set of options, and running them.
import KilnIR

/// What the user chose about the pipeline, threaded from the command line to wherever passes run.
public struct PassOptions: Sendable {
  /// `--print-after all`: print the graph after every pass.
  public static let allPasses = "all"

  /// Which pipeline runs.
  public var mode: PipelineMode = .inference
  /// `--disable-pass NAME`: passes left out (any registered pass but the required ones).
  public var disabled: [String] = []
  /// `--no-fuse` sets this to false: every fusion pass is left out.
  public var fuse = true
  /// `--print-after NAME`: print `Graph.dump()` after these passes; `all` for every pass.
  public var printAfter: [String] = []
  /// Run the IR verifier after every pass (on in tests and debug builds).
  public var verify = PassManager.verifyByDefault
  /// Where `--print-after` dumps go (standard output by default).
  public var printer: @Sendable (String) -> Void = { print($0) }

  /// The default pipeline: inference, nothing disabled or printed.
  public init() {}
}

/// Why a pipeline cannot be built from the options given.
public struct PipelineError: Error, Sendable, CustomStringConvertible {
  /// What is wrong and what the known passes are.
  public var description: String
}

/// The passes that run, in order, resolved from the registry and the options.
public struct Pipeline: Sendable {
  /// The mode every pass is made for.
  public let mode: PipelineMode
  /// The passes that run, in order.
  public let passes: [RegisteredPass]
  /// Passes to print the graph after; nil prints after every pass.
  let printAfter: Set<String>?
  let verify: Bool
  let printer: @Sendable (String) -> Void

  /// The registry's passes for `options.mode`, minus the disabled ones (and the fusion passes without `fuse`).
  /// - Throws: `PipelineError` for an unknown or required pass name, or `--print-after` of a pass that does not run.
  public init(options: PassOptions, registry: [RegisteredPass] = PassRegistry.passes) throws(PipelineError) {
    let known = registry.map(\.name)
    for name in options.disabled {
      guard let pass = registry.first(where: { $0.name == name }) else {
        throw PipelineError(description: "cannot disable unknown pass '\(name)'; passes: \(known.joined(separator: ", "))")
      }
      if pass.isRequired {
        throw PipelineError(description: "pass '\(name)' cannot be disabled: \(pass.why)")
      }
    }
    let selected = registry.filter {
      $0.modes.contains(options.mode) && !options.disabled.contains($0.name) && (options.fuse || !$0.isFusion)
    }
    try self.init(selected, options: options, registry: registry)
  }

  /// Exactly the named passes, in the order given (for pass fixtures and tests), each legal in `options.mode`.
  /// `options.disabled` and `options.fuse` are not consulted: the list says what runs.
  /// - Throws: `PipelineError` for an unknown name or a pass not legal in the mode.
  public init(running names: [String], options: PassOptions, registry: [RegisteredPass] = PassRegistry.passes)
    throws(PipelineError)
  {
    var selected: [RegisteredPass] = []
    for name in names {
      guard let pass = registry.first(where: { $0.name == name }) else {
        let known = registry.map(\.name).joined(separator: ", ")
        throw PipelineError(description: "unknown pass '\(name)'; passes: \(known)")
      }
      guard pass.modes.contains(options.mode) else {
        throw PipelineError(description: "pass '\(name)' is not legal in \(options.mode.rawValue) mode")
      }
      selected.append(pass)
    }
    try self.init(selected, options: options, registry: registry)
  }

  private init(_ selected: [RegisteredPass], options: PassOptions, registry: [RegisteredPass]) throws(PipelineError) {
    var printAfter: Set<String>? = []
    for name in options.printAfter {
      if name == PassOptions.allPasses {
        printAfter = nil
        continue
      }
      guard registry.contains(where: { $0.name == name }) else {
        let known = registry.map(\.name).joined(separator: ", ")
        throw PipelineError(
          description: "cannot print after unknown pass '\(name)'; passes: \(known), or '\(PassOptions.allPasses)'")
      }
      guard selected.contains(where: { $0.name == name }) else {
        throw PipelineError(description: "cannot print after pass '\(name)': it does not run in this pipeline")
      }
      printAfter?.insert(name)
    }
    self.mode = options.mode
    self.passes = selected
    self.printAfter = printAfter
    self.verify = options.verify
    self.printer = options.printer
  }

  /// The names of the passes that run, in order.
  public var names: [String] { passes.map(\.name) }

  /// Runs the passes in order on `graph` (the verifier after each when enabled), printing the graph after
  /// the selected passes. Returns every diagnostic; an error stops the pipeline after the failing pass.
  public func run(_ graph: inout Graph) -> [Diagnostic] {
    var manager = PassManager(passes: passes.map { $0.make(mode) }, verifyAfterEachPass: verify)
    let printAfter = printAfter
    let printer = printer
    manager.observer = { name, g in
      guard printAfter?.contains(name) ?? true else { return }
      printer("// IR after \(name)\n\(g.dump())")
    }
    return manager.run(&graph)
  }
}
