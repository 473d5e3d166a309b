// Keeps docs/spec.md honest: its examples are parsed, and its error example must print what the doc shows.

import Foundation
import KilnFrontend
import KilnIR
import Testing

/// A fenced block of docs/spec.md.
struct DocBlock: Sendable, CustomTestStringConvertible {
  var language: String
  var text: String
  var line: Int
  var testDescription: String { "\(language) block at docs/spec.md:\(line)" }
}

enum SpecDoc {
  static let path = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent().appendingPathComponent("docs/spec.md").path

  /// Every fenced block of the document, in order.
  static let blocks: [DocBlock] = {
    guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { return [] }
    var blocks: [DocBlock] = []
    var current: DocBlock?
    for (i, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
      if line.hasPrefix("```") {
        if let c = current {
          blocks.append(c)
          current = nil
        } else {
          current = DocBlock(language: String(line.dropFirst(3)), text: "", line: i + 1)
        }
      } else if current != nil {
        current?.text += line + "\n"
      }
    }
    return blocks
  }()

  static func blocks(_ language: String) -> [DocBlock] { blocks.filter { $0.language == language } }
}

@Suite struct SpecDocTests {
  @Test func documentHasExamplesOfEveryKind() {
    #expect(SpecDoc.blocks("kiln").count >= 3, "docs/spec.md not found at \(SpecDoc.path) or lost its examples")
    #expect(SpecDoc.blocks("kiln-layer").count >= 6)
    #expect(SpecDoc.blocks("kiln-error").count == 1)
  }

  @Test(arguments: SpecDoc.blocks("kiln"))
  func fullExamplesParseCleanly(_ block: DocBlock) {
    #expect(parseClean(block.text) != nil, "\(block.testDescription)")
  }

  @Test(arguments: SpecDoc.blocks("kiln-layer"))
  func layerExamplesParseCleanly(_ block: DocBlock) throws {
    let prelude = "network doc\ninput x: f32[4, 8, 8]\nconv a (filters: 4, kernel: 1)\nconv b (filters: 4, kernel: 1) <- x\n"
    let graph = try #require(parseClean(prelude + block.text + "output out\n"), "\(block.testDescription)")
    let lines = block.text.split(separator: "\n").filter { !$0.trimmingCharacters(in: .whitespaces).isEmpty }
    #expect(graph.nodes.count == 3 + lines.count, "\(block.testDescription)")
  }

  @Test func errorExampleMatchesTheOutputShown() throws {
    let errors = try #require(SpecDoc.blocks("kiln-error").first)
    let shown = try #require(SpecDoc.blocks.first { $0.line > errors.line && $0.language == "text" })
    let actual = Frontend.parse(errors.text, file: "bad.kiln").diagnostics.map(\.description)
    #expect(actual == shown.text.split(separator: "\n").map(String.init))
  }

  @Test func everyLayerKeywordIsDocumented() throws {
    let text = try String(contentsOfFile: SpecDoc.path, encoding: .utf8)
    for keyword in [
      "dense", "conv", "conv2d", "maxpool", "avgpool", "global_avgpool", "flatten", "reshape", "concat", "add", "mul",
      "batchnorm", "dropout", "lrn", "identity", "relu", "relu6", "leaky_relu", "elu", "sigmoid", "tanh", "softmax",
      "log_softmax",
    ] {
      #expect(text.contains("`\(keyword)`"), "\(keyword) is not documented")
    }
  }
}
