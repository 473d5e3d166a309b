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

/// Loads every kernel template once and renders contexts through them.
public final class TemplateRenderer: Sendable {
  /// The renderer over the bundled Templates/kernels folder.
  public static let shared: TemplateRenderer = {
    do { return try TemplateRenderer(directory: KilnTemplates.kernels) } catch {
      // NOTE: the templates ship inside the package; a missing or unparsable one is a build defect, not user input.
      fatalError("Kiln's kernel templates could not be loaded: \(error)")
    }
  }()

  let templates: [String: MustacheTemplate]
  /// The raw text of each template, for the tag check.
  public let sources: [String: String]

  /// Loads every `*.c.mustache` file of `directory`.
  public init(directory: URL) throws {
    let names = try FileManager.default.contentsOfDirectory(atPath: directory.path).filter { $0.hasSuffix(".c.mustache") }
    var templates: [String: MustacheTemplate] = [:]
    var sources: [String: String] = [:]
    for file in names.sorted() {
      let name = String(file.dropLast(".c.mustache".count))
      let text = try String(contentsOf: directory.appendingPathComponent(file), encoding: .utf8)
      guard text.hasPrefix("{{% CONTENT_TYPE: TEXT}}") else {
        throw TemplateError("\(file) must start with {{% CONTENT_TYPE: TEXT}} so that < and & are not escaped")
      }
      do { templates[name] = try MustacheTemplate(string: text) } catch {
        throw TemplateError("\(file): \(error)")
      }
      sources[name] = text
    }
    self.templates = templates
    self.sources = sources
  }

  /// Renders `context` through its template.
  public func render<C: KernelContext>(_ context: C) -> String {
    guard let template = templates[C.template] else {
      fatalError("no template '\(C.template).c.mustache' in Templates/kernels (context \(C.self))")
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
