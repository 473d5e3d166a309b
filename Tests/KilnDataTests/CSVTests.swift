// CSV tables and tabular datasets: quoting, line endings, targets for regression and classification, located errors.

import Foundation
import KilnIR
import Testing

@testable import KilnData

@Suite struct CSVTests {
  /// Writes `text` to a scratch file and loads it as a dataset.
  static func load(_ text: String, target: String, task: TabularTask) throws -> TabularDataset {
    let dir = try ScratchDirectory()
    defer { dir.remove() }
    let path = dir.file("data.csv")
    try writeFixture(Array(text.utf8), to: path)
    return try TabularDataset.load(csv: path, target: target, task: task)
  }

  @Test func parsesQuotesEscapesLineEndingsAndBlankLines() throws {
    let text = "\u{FEFF}name,\"note, with comma\",x\r\n\"a \"\"b\"\"\",\"two\r\nlines\",1\r\n\r\nc,,2\r\n\n"
    let table = try CSVTable.parse(text, path: "t.csv")
    #expect(table.header == ["name", "note, with comma", "x"])
    #expect(table.rows == [["a \"b\"", "two\r\nlines", "1"], ["c", "", "2"]])
    // The second record starts on line 5: the quoted line break moved the first record onto two lines.
    #expect(table.positions[0].map(\.line) == [2, 2, 3])
    #expect(table.positions[0][2].column == 8)  // `lines",1`: the 1 is the 8th character
    #expect(
      table.positions[1] == [
        CSVPosition(line: 5, column: 1), CSVPosition(line: 5, column: 3), CSVPosition(line: 5, column: 4),
      ])
  }

  @Test func regressionTargetAndFeaturesInFileOrder() throws {
    let d = try Self.load("rooms,price,age\n3,250.5,10\n 4 ,300,1e1\n", target: "price", task: .regression)
    #expect(d.featureNames == ["rooms", "age"])
    #expect(d.features == Tensor(shape: [2, 2], data: [3, 10, 4, 10]))
    #expect(d.target == .values(Tensor(shape: [2, 1], data: [250.5, 300])))
    #expect(d.count == 2 && d.targetName == "price")
  }

  @Test func integerClassLabelsAreUsedAsTheyAre() throws {
    let d = try Self.load("glucose,outcome\n148,1\n85,0\n183,2\n", target: "outcome", task: .classification)
    #expect(d.target == .classes(IntTensor(shape: [3], data: [1, 0, 2]), classNames: ["0", "1", "2"]))
    #expect(d.features == Tensor(shape: [3, 1], data: [148, 85, 183]))
  }

  @Test func stringCategoriesAreIndexedInSortedOrder() throws {
    let d = try Self.load(
      "a,species,b\n1,virginica,2\n3,setosa,4\n5,versicolor,6\n7,setosa,8\n", target: "species", task: .classification)
    #expect(
      d.target
        == .classes(IntTensor(shape: [4], data: [2, 0, 1, 0]), classNames: ["setosa", "versicolor", "virginica"]))
    #expect(d.features == Tensor(shape: [4, 2], data: [1, 2, 3, 4, 5, 6, 7, 8]))
    // A negative integer makes the labels categories too, sorted as text.
    let signed = try Self.load("x,y\n0,-1\n0,1\n", target: "y", task: .classification)
    #expect(signed.target == .classes(IntTensor(shape: [2], data: [0, 1]), classNames: ["-1", "1"]))
  }

  struct Bad: Sendable, CustomTestStringConvertible {
    var name: String
    var text: String
    var target: String = "y"
    var task: TabularTask = .regression
    var message: String
    var testDescription: String { name }
  }

  static let bad = [
    Bad(
      name: "missing column", text: "a,b\n1,2\n", target: "price",
      message: "data.csv:1:1: no column is named 'price'; expected one of the header's names: a, b"),
    Bad(
      name: "ragged short", text: "x,y\n1,2\n3\n",
      message: "data.csv:3:2: the record has 1 fields; expected 2, as the header has"),
    Bad(
      name: "ragged long", text: "x,y\n1,2,5\n",
      message: "data.csv:2:5: the record has 3 fields; expected 2, as the header has"),
    Bad(
      name: "non-numeric feature", text: "x,y\n1,2\nabc,3\n",
      message: "data.csv:3:1: feature column 'x' holds 'abc'; expected a finite number"),
    Bad(
      name: "empty feature", text: "x,y\n,2\n",
      message: "data.csv:2:1: feature column 'x' holds an empty cell; expected a finite number"),
    Bad(
      name: "nan target", text: "x,y\n1,nan\n",
      message: "data.csv:2:3: target column 'y' holds 'nan'; expected a finite number"),
    Bad(
      name: "empty label", text: "x,y\n1,a\n2, \n", task: .classification,
      message: "data.csv:3:3: target column 'y' holds an empty cell; expected a class label"),
    Bad(
      name: "huge label", text: "x,y\n1,70000\n", task: .classification,
      message: "data.csv:2:3: class label 70000 is too large"),
    Bad(
      name: "unterminated quote", text: "x,y\n1,\"2\n",
      message: "data.csv:2:3: the quoted field starting here is never closed"),
    Bad(
      name: "text after quote", text: "x,y\n1,\"2\"3\n",
      message: "data.csv:2:6: text after the closing quote of a field"),
    Bad(name: "stray quote", text: "x,y\n1,2\"\n", message: "data.csv:2:4: a quote inside an unquoted field"),
    Bad(name: "empty file", text: "\n\n", message: "data.csv:1:1: the file is empty; expected a header row"),
    Bad(name: "no records", text: "x,y\n", message: "data.csv:2:1: the file has a header but no records"),
    Bad(name: "duplicate name", text: "x,y,x\n1,2,3\n", message: "data.csv:1:5: column name 'x' appears twice"),
    Bad(name: "unnamed column", text: "x,,y\n1,2,3\n", message: "data.csv:1:3: column 2 of the header has no name"),
    Bad(name: "target only", text: "y\n1\n", message: "data.csv:1:1: the only column is the target 'y'"),
  ]

  @Test(arguments: bad)
  func errorsNameFileLineAndColumn(_ c: Bad) {
    expectError(containing: [c.message]) { _ = try Self.load(c.text, target: c.target, task: c.task) }
  }

  @Test func unreadableAndNonUTF8Files() throws {
    expectError(containing: ["/no/such/file.csv", "cannot open"]) {
      _ = try TabularDataset.load(csv: "/no/such/file.csv", target: "y", task: .regression)
    }
    let dir = try ScratchDirectory()
    defer { dir.remove() }
    try writeFixture([0x78, 0x2C, 0x79, 0x0A, 0xFF, 0x2C, 0x31, 0x0A], to: dir.file("latin1.csv"))
    expectError(containing: ["latin1.csv", "not UTF-8 text"]) { _ = try CSVTable.read(dir.file("latin1.csv")) }
  }
}
