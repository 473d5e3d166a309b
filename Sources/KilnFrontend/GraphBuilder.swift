// Semantic checks, part one: the values of a spec, its one namespace, automatic names and name lookup.

import KilnIR

/// Turns parsed statements into a graph. Everything wrong is reported; what is wrong is left out of the
/// graph together with whatever reads it, without further diagnostics.
struct GraphBuilder {
  /// A statement that produces a value: an input or a layer, in source order.
  struct Entity {
    var name: String
    var explicitName: Name?
    var location: SourceLocation
    var op: Op?
    var dependencies: [Int] = []
    var isBroken: Bool
    /// The layer statement, for layers.
    var layer: LayerStatement?
    /// The value a sequential layer reads: the previous layer, or the latest input before any layer.
    var previous: Int?
  }

  /// What a name in the namespace stands for.
  enum Definition {
    case value(Int)
    case output(Int)
    case target
  }

  /// An `output` statement and what it names.
  struct OutputEntry {
    var statement: OutputStatement
    /// The value before the statement, for `output NAME` without `<-`.
    var previous: Int?
    /// The value it names, once resolved.
    var source: Int?
    var isDropped = false
  }

  /// How a reference to a name came out.
  enum Lookup {
    case value(Int)
    /// The name belongs to something already reported as broken: leave the reader out quietly.
    case poisoned
    /// A diagnostic was reported.
    case failed
  }

  let file: String
  var diagnostics: [Diagnostic] = []
  var entities: [Entity] = []
  var outputs: [OutputEntry] = []
  var networkName: String?
  var networkLocation: SourceLocation?
  var trainStatement: TrainStatement?
  var trainSettings: TrainSettings?
  var definitions: [String: (definition: Definition, location: SourceLocation?)] = [:]
  /// Every name in the namespace in the order defined, for deterministic suggestions.
  var definitionOrder: [String] = []

  init(file: String) { self.file = file }

  mutating func fail(_ at: SourceLocation?, _ message: String, expected: String) {
    diagnostics.append(Diagnostic(at: at, message, expected: expected))
  }

  /// Builds the graph of a file; nil when it has no `network` line.
  mutating func build(_ statements: [Statement]) -> Graph? {
    collect(statements)
    if let t = trainStatement {
      let (settings, problems) = TrainSection.read(t)
      trainSettings = settings
      diagnostics += problems
    }
    assignAutomaticNames()
    defineNames()
    resolveOutputs()
    buildLayers()
    guard let networkName else { return nil }
    return assemble(name: networkName)
  }

  // MARK: Statements to values

  private mutating func collect(_ statements: [Statement]) {
    var current: Int?
    var sawLayer = false
    for (i, statement) in statements.enumerated() {
      switch statement {
      case .network(let location, let name):
        if let first = networkLocation {
          fail(location, "a second 'network' line (the first is at \(first))", expected: "one 'network' line")
          continue
        }
        networkLocation = location
        networkName = name?.text ?? "network"
        if i != 0 {
          fail(location, "'network' line after other statements", expected: "'network NAME' as the first statement")
        }
      case .input(let s):
        let op = s.isBroken ? nil : inputOp(s)
        entities.append(
          Entity(name: s.name?.text ?? "", explicitName: s.name, location: s.location, op: op, isBroken: op == nil))
        if !sawLayer { current = entities.count - 1 }
      case .layer(let s):
        entities.append(
          Entity(
            name: s.name?.text ?? "", explicitName: s.name, location: s.keyword.location, isBroken: s.isBroken,
            layer: s, previous: current))
        current = entities.count - 1
        sawLayer = true
      case .output(let s):
        outputs.append(OutputEntry(statement: s, previous: current))
      case .train(let s):
        if let first = trainStatement {
          fail(s.location, "a second train section (the first is at \(first.location))", expected: "one train section")
        } else {
          trainStatement = s
        }
      }
    }
    if networkLocation == nil {
      let first = statements.first.map(Self.location(of:)) ?? SourceLocation(file: file, line: 1, column: 1)
      fail(first, "missing 'network' line", expected: "'network NAME' as the first statement")
    }
  }

  private static func location(of statement: Statement) -> SourceLocation {
    switch statement {
    case .network(let location, _): return location
    case .input(let s): return s.location
    case .layer(let s): return s.keyword.location
    case .output(let s): return s.location
    case .train(let s): return s.location
    }
  }

  /// The op of a data input: f32 with positive per-sample dimensions.
  private mutating func inputOp(_ s: InputStatement) -> Op? {
    guard let name = s.name, let dtype = s.dtype else { return nil }
    var ok = true
    if dtype.text == "i64" {
      fail(dtype.location, "input '\(name.text)' has element type i64",
        expected: "f32: data inputs are float32 (i64 class labels come in through the train section's loss target)")
      ok = false
    } else if dtype.text != "f32" {
      fail(dtype.location, "unknown element type '\(dtype.text)' for input '\(name.text)'", expected: "f32")
      ok = false
    }
    if s.dims.isEmpty {
      fail(s.dimsLocation ?? dtype.location, "input '\(name.text)' has no dimensions",
        expected: "at least one per-sample dimension, e.g. f32[1, 28, 28]")
      ok = false
    }
    var dims: [Int] = []
    for v in s.dims {
      if case .integer(let d) = v.kind, d > 0 {
        dims.append(d)
      } else {
        fail(v.location, "found \(v.description) as a dimension of input '\(name.text)'", expected: "a positive integer")
        ok = false
      }
    }
    return ok ? .input(Input(type: TensorType(.f32, dims))) : nil
  }

  // MARK: Names

  /// `<keyword>_<k>` for unnamed layers, k counting per keyword and skipping names the file uses.
  private mutating func assignAutomaticNames() {
    var taken = Set(entities.compactMap { $0.explicitName?.text })
    taken.formUnion(outputs.compactMap { $0.statement.name?.text })
    if let target = trainSettings?.target.text { taken.insert(target) }
    var counters: [String: Int] = [:]
    for i in entities.indices where entities[i].explicitName == nil {
      guard let keyword = entities[i].layer?.keyword.text, let entry = LayerCatalog.entry(for: keyword) else { continue }
      var k = counters[entry.keyword, default: 0]
      repeat { k += 1 } while taken.contains("\(entry.keyword)_\(k)")
      counters[entry.keyword] = k
      entities[i].name = "\(entry.keyword)_\(k)"
      taken.insert(entities[i].name)
    }
  }

  /// The name of the value an output statement names, as written or implied.
  private func sourceName(of output: OutputEntry) -> String? {
    if let source = output.statement.source { return source.text }
    return output.previous.map { entities[$0].name }
  }

  /// Enters every name into the one namespace in source order; a later duplicate is an error and is left out.
  private mutating func defineNames() {
    var pending: [(name: Name, definition: Definition)] = []
    for (i, e) in entities.enumerated() {
      if let name = e.explicitName { pending.append((name, .value(i))) }
    }
    var outputNames: [String: SourceLocation] = [:]
    for (i, o) in outputs.enumerated() {
      guard let name = o.statement.name else { continue }
      // An output may carry its own value's name: then it defines nothing new, but is still one output name.
      if name.text != sourceName(of: o) {
        pending.append((name, .output(i)))
      } else if let first = outputNames[name.text] {
        fail(name.location, "duplicate output name '\(name.text)' (first defined at \(first))",
          expected: "a different name for each output")
        outputs[i].isDropped = true
      }
      if outputNames[name.text] == nil { outputNames[name.text] = name.location }
    }
    if let target = trainSettings?.target { pending.append((target, .target)) }
    pending.sort { $0.name.location < $1.name.location }
    for (name, definition) in pending {
      if let first = definitions[name.text] {
        let at = first.location.map { " (first defined at \($0))" } ?? ""
        fail(name.location, "duplicate name '\(name.text)'\(at)",
          expected: "a name not used elsewhere in the file: inputs, layers, outputs and the training target share one namespace")
        switch definition {
        case .value(let i): entities[i].isBroken = true
        case .output(let i): outputs[i].isDropped = true
        case .target: trainSettings = nil
        }
        continue
      }
      definitions[name.text] = (definition, name.location)
      definitionOrder.append(name.text)
    }
    for (i, e) in entities.enumerated() where e.explicitName == nil && !e.name.isEmpty {
      definitions[e.name] = (.value(i), nil)
      definitionOrder.append(e.name)
    }
  }

  /// Reports an undefined name, suggesting the closest defined one.
  private mutating func undefined(_ name: Name, expected: String) {
    let hint = closestWord(to: name.text, in: definitionOrder).map { "; did you mean '\($0)'?" } ?? ""
    fail(name.location, "undefined name '\(name.text)'\(hint)", expected: expected)
  }

  /// The value a layer (or the loss) reads under `name`: an input, a layer, or the value of an output.
  mutating func lookUpValue(_ name: Name, reader: String) -> Lookup {
    switch definitions[name.text]?.definition {
    case .value(let i):
      // NOTE: a broken value is still returned: ordering leaves out whatever reads it.
      return .value(i)
    case .output(let i):
      return outputs[i].source.map { .value($0) } ?? .poisoned
    case .target:
      fail(name.location, "\(reader) reads the training target '\(name.text)'",
        expected: "an input, a layer or an output; the target is read only by the loss")
      return .failed
    case nil:
      undefined(name, expected: "the name of an input, a layer or an output of this file")
      return .failed
    }
  }

  private mutating func resolveOutputs() {
    for i in outputs.indices where !outputs[i].statement.isBroken && !outputs[i].isDropped {
      let o = outputs[i]
      guard let name = o.statement.name else { continue }
      guard let source = o.statement.source else {
        if let previous = o.previous {
          outputs[i].source = previous
        } else {
          fail(o.statement.location, "output '\(name.text)' has no value before it",
            expected: "an input or a layer before it, or 'output \(name.text) <- VALUE'")
          outputs[i].isDropped = true
        }
        continue
      }
      switch definitions[source.text]?.definition {
      case .value(let e):
        outputs[i].source = e
      case .output:
        fail(source.location, "output '\(name.text)' names the output '\(source.text)'",
          expected: "the name of an input or a layer")
        outputs[i].isDropped = true
      case .target:
        fail(source.location, "output '\(name.text)' names the training target '\(source.text)'",
          expected: "the name of an input or a layer")
        outputs[i].isDropped = true
      case nil:
        undefined(source, expected: "the name of an input or a layer of this file")
        outputs[i].isDropped = true
      }
    }
  }
}
