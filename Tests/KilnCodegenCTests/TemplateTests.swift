// Every kernel template and its typed context name the same keys, both ways; every template has a context.
import KilnCodegenC
import Testing

@Suite struct TemplateTests {
  /// Templates are parsed on first use; this parses every one, so a broken template fails here.
  @Test func everyTemplateParses() throws {
    try TemplateRenderer.shared.parseAll()
    #expect(TemplateRenderer.shared.sources.count >= KernelContexts.all.count)
  }

  @Test func everyTemplateTagIsAContextFieldAndEveryFieldIsUsed() throws {
    for context in KernelContexts.all {
      let source = try #require(TemplateRenderer.shared.sources[context.template], "no template for \(context)")
      let tags = TemplateRenderer.tags(in: source)
      let fields = TemplateRenderer.fieldNames(of: context.sample)
      #expect(tags.subtracting(fields).isEmpty, "\(context.template): tags without a field: \(tags.subtracting(fields).sorted())")
      #expect(fields.subtracting(tags).isEmpty, "\(context.template): fields never used: \(fields.subtracting(tags).sorted())")
    }
  }

  @Test func everyTemplateHasAContext() {
    let withContext = Set(KernelContexts.all.map { $0.template })
    #expect(Set(TemplateRenderer.shared.sources.keys) == withContext)
  }

  @Test func tagScannerSeesEveryKind() {
    let tags = TemplateRenderer.tags(in: "{{% CONTENT_TYPE: TEXT}}{{a}} {{{b}}} {{#c}}{{d}}{{/c}} {{^e}}x{{/e}} {{! note }}")
    #expect(tags == ["a", "b", "c", "d", "e"])
  }
}
