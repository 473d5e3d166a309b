// Rendering kernel templates (Templates/kernels/*.c.mustache) from typed context structs.
import Foundation
import KilnTemplates
import Mustache

/// The typed context of one kernel template: its stored properties are the template's tags, and a test
/// checks that both sides name the same keys (a missing key would render empty, silently).
public protocol KernelContext: Sendable {
  /// The template file under Templates/kernels, without `.c.mustache`.
  static var template: String { get }
  /// A representative instance, for the tag-versus-field test.
  static var sample: Self { get }
}

/// Errors from loading or rendering templates.
public struct TemplateError: Error, CustomStringConvertible, Sendable {
  public var description: String
  init(_ description: String) { self.description = description }
}

/// Loads every kernel template once and renders contexts through them, parsing each on its first use.
public final class TemplateRenderer: @unchecked Sendable {
  /// The renderer over the bundled Templates/kernels folder.
  public static let shared: TemplateRenderer = {
    do { return try TemplateRenderer(directory: KilnTemplates.kernels) } catch {
      // NOTE: the templates ship inside the package; a missing or unparsable one is a build defect, not user input.
      fatalError("Kiln's kernel templates could not be loaded: \(error)")
    }
  }()

  /// The raw text of each template, for the tag check.
  public let sources: [String: String]
  // NOTE: parsed on first use, under the lock: parsing all the templates up front took a third of
  // `kiln compile --no-build` on LeNet-5, which renders four of them. `parseAll` (tested) checks every one.
  private let lock = NSLock()
  private var parsed: [String: MustacheTemplate] = [:]

  /// Loads every `*.c.mustache` file of `directory`.
  public init(directory: URL) throws {
    let names = try FileManager.default.contentsOfDirectory(atPath: directory.path).filter { $0.hasSuffix(".c.mustache") }
    var sources: [String: String] = [:]
    for file in names.sorted() {
      let name = String(file.dropLast(".c.mustache".count))
      let text = try String(contentsOf: directory.appendingPathComponent(file), encoding: .utf8)
      guard text.hasPrefix("{{% CONTENT_TYPE: TEXT}}") else {
        throw TemplateError("\(file) must start with {{% CONTENT_TYPE: TEXT}} so that < and & are not escaped")
      }
      sources[name] = text
    }
    self.sources = sources
  }

  /// The parsed template `name`, parsing it the first time.
  /// - Throws: `TemplateError` when there is no such template or it does not parse.
  func template(_ name: String) throws -> MustacheTemplate {
    lock.lock()
    defer { lock.unlock() }
    if let template = parsed[name] { return template }
    guard let text = sources[name] else { throw TemplateError("no template '\(name).c.mustache' in Templates/kernels") }
    do {
      let template = try MustacheTemplate(string: text)
      parsed[name] = template
      return template
    } catch {
      throw TemplateError("\(name).c.mustache: \(error)")
    }
  }

  /// Parses every template now.
  /// - Throws: `TemplateError` naming the first that does not parse.
  public func parseAll() throws {
    for name in sources.keys.sorted() { _ = try template(name) }
  }

  /// Renders `context` through its template.
  public func render<C: KernelContext>(_ context: C) -> String {
    let template: MustacheTemplate
    do { template = try self.template(C.template) } catch {
      // NOTE: the templates ship inside the package; a missing or unparsable one is a build defect, not user input.
      fatalError("\(error) (context \(C.self))")
    }
    // The pragma line renders as an empty first line.
    var text = template.render(context)
    while text.hasPrefix("\n") { text.removeFirst() }
    return text
  }

  /// The tag names a template uses (`{{x}}`, `{{{x}}}`, `{{#x}}`, `{{^x}}`, `{{/x}}`), pragmas and comments excluded.
  public static func tags(in text: String) -> Set<String> {
    var tags: Set<String> = []
    var rest = Substring(text)
    while let open = rest.range(of: "{{") {
      rest = rest[open.upperBound...]
      guard let close = rest.range(of: "}}") else { break }
      var tag = rest[..<close.lowerBound].trimmingCharacters(in: .whitespaces)
      rest = rest[close.upperBound...]
      if tag.hasPrefix("%") || tag.hasPrefix("!") { continue }
      if tag.hasPrefix("{") {
        tag.removeFirst()
        if rest.hasPrefix("}") { rest = rest.dropFirst() }
      }
      if let first = tag.first, "#^/&".contains(first) { tag.removeFirst() }
      tag = tag.trimmingCharacters(in: .whitespaces)
      if !tag.isEmpty && tag != "." { tags.insert(tag) }
    }
    return tags
  }

  /// Every stored property name of `value`, recursing into arrays of structs (section contents).
  public static func fieldNames(of value: Any) -> Set<String> {
    var names: Set<String> = []
    for child in Mirror(reflecting: value).children {
      guard let label = child.label else { continue }
      names.insert(label)
      if let array = child.value as? [Any], let first = array.first, !(first is String), !(first is Int),
        !(first is Float), !(first is Double), !(first is Bool)
      {
        names.formUnion(fieldNames(of: first))
      }
    }
    return names
  }
}
