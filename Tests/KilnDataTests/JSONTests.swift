// The header JSON parser: escapes, member order and duplicates kept, and its syntax errors.

import Testing

@testable import KilnData

@Suite struct JSONTests {
  @Test func parsesEscapesNumbersAndKeepsOrder() throws {
    let text = #" {"b": "tab\tquote\" \u00e9 \ud83d\ude00", "a": [1, -2.5e3, true, null], "b": {}} "#
    let value = try JSONParser.parse(Array(text.utf8))
    guard case .object(let members) = value else {
      Issue.record("not an object: \(value)")
      return
    }
    #expect(members.map(\.key) == ["b", "a", "b"])
    #expect(members[0].value == .string("tab\tquote\" é 😀"))
    #expect(members[1].value == .array([.number("1"), .number("-2.5e3"), .bool(true), .null]))
    #expect(members[1].value.kind == "an array")
    #expect(JSONValue.number("12").nonNegativeInt == 12)
    #expect(JSONValue.number("-1").nonNegativeInt == nil)
    #expect(JSONValue.number("1e2").nonNegativeInt == nil)
  }

  @Test func quotingRoundTrips() throws {
    let s = "a\"b\\c\nd\u{1}é"
    #expect(jsonQuoted(s) == #""a\"b\\c\nd\u0001é""#)
    #expect(try JSONParser.parse(Array(jsonQuoted(s).utf8)) == .string(s))
  }

  struct Bad: Sendable, CustomTestStringConvertible {
    let text: String
    let message: String
    var testDescription: String { text }
  }

  static let bad = [
    Bad(text: "", message: "unexpected end of JSON at byte 0"),
    Bad(text: "{\"a\" 1}", message: "expected ':' after a key"),
    Bad(text: "[1, 2", message: "unterminated array"),
    Bad(text: "\"abc", message: "unterminated string"),
    Bad(text: "01", message: "leading zero"),
    Bad(text: "\"\\ud800x\"", message: "unpaired surrogate"),
    Bad(text: "\"\\q\"", message: "invalid escape '\\q'"),
    Bad(text: "{} {}", message: "unexpected text after the JSON value at byte 3"),
    Bad(text: String(repeating: "[", count: 100), message: "nested deeper than 64 levels"),
  ]

  @Test(arguments: bad) func rejectsInvalidJSON(_ c: Bad) {
    expectError(containing: [c.message]) { _ = try JSONParser.parse(Array(c.text.utf8)) }
  }

  @Test func rejectsInvalidUTF8() {
    expectError(containing: ["not valid UTF-8"]) { _ = try JSONParser.parse([0x22, 0xFF, 0x22]) }
  }
}
