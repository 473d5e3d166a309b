// A CSV table as a dataset: numeric feature columns [N, F] and one target column, for regression or classification.

import KilnIR

/// What the target column of a tabular dataset is read as.
public enum TabularTask: String, Hashable, Sendable {
  /// Float targets (mse, mae losses).
  case regression
  /// Class labels (cross-entropy).
  case classification
}

/// The target column of a tabular dataset.
public enum TabularTarget: Hashable, Sendable {
  /// Regression targets, f32 [N, 1].
  case values(Tensor)
  /// Class labels, i64 [N], each in 0..<classNames.count.
  case classes(IntTensor, classNames: [String])
}

/// A table of samples: every column but the target is a numeric feature.
public struct TabularDataset: Hashable, Sendable {
  /// The feature columns' names, in file order.
  public var featureNames: [String]
  /// f32 [N, F], in file order.
  public var features: Tensor
  /// The target column's name.
  public var targetName: String
  /// The target of each sample.
  public var target: TabularTarget

  /// The number of samples N.
  public var count: Int { features.shape[0] }

  /// Reads the CSV file at `path` (`--data csv:FILE --target COLUMN`): see `init(table:target:task:)`.
  public static func load(csv path: String, target: String, task: TabularTask) throws -> TabularDataset {
    try TabularDataset(table: CSVTable.read(path), target: target, task: task)
  }

  /// The dataset of `table` with the column named `target` as the target.
  ///
  /// Every other column is a feature and each of its cells must be a finite number (spaces around it allowed).
  /// For regression the target cells must be finite numbers too. For classification, when every target cell is a
  /// non-negative integer the label is that integer and the classes are "0" … the largest; otherwise the distinct
  /// cells, sorted, are the class names and each label is its cell's index among them. Errors name the cell's
  /// file:line:column, its column and what was expected; a missing column lists the header's names.
  public init(table: CSVTable, target: String, task: TabularTask) throws {
    let path = table.path
    guard let targetColumn = table.header.firstIndex(of: target) else {
      throw CSVError(
        path: path, line: 1, column: 1,
        "no column is named '\(target)'; expected one of the header's names: \(table.header.joined(separator: ", "))")
    }
    guard table.header.count > 1 else {
      throw CSVError(
        path: path, line: 1, column: 1, "the only column is the target '\(target)'; expected feature columns too")
    }
    guard !table.rows.isEmpty else {
      throw CSVError(
        path: path, line: 2, column: 1, "the file has a header but no records; expected at least one sample")
    }
    func error(_ r: Int, _ c: Int, _ message: String) -> CSVError {
      let at = table.positions[r][c]
      return CSVError(path: path, line: at.line, column: at.column, message)
    }
    func number(_ r: Int, _ c: Int, _ what: String) throws -> Double {
      let cell = table.rows[r][c]
      let text = cell.trimmingSpaces
      guard let v = Double(text), v.isFinite else {
        let found = cell.isEmpty ? "an empty cell" : "'\(cell)'"
        throw error(r, c, "\(what) column '\(table.header[c])' holds \(found); expected a finite number")
      }
      return v
    }

    let featureColumns = table.header.indices.filter { $0 != targetColumn }
    let n = table.rows.count
    var x = [Float](repeating: 0, count: n * featureColumns.count)
    for r in 0..<n {
      for (j, c) in featureColumns.enumerated() { x[r * featureColumns.count + j] = Float(try number(r, c, "feature")) }
    }
    featureNames = featureColumns.map { table.header[$0] }
    features = Tensor(shape: [n, featureColumns.count], data: x)
    targetName = target

    switch task {
    case .regression:
      let y = try (0..<n).map { Float(try number($0, targetColumn, "target")) }
      self.target = .values(Tensor(shape: [n, 1], data: y))
    case .classification:
      let cells = table.rows.map { $0[targetColumn].trimmingSpaces }
      if let r = cells.firstIndex(where: \.isEmpty) {
        throw error(r, targetColumn, "target column '\(target)' holds an empty cell; expected a class label")
      }
      let integers = cells.map { Int($0) }
      if integers.allSatisfy({ ($0 ?? -1) >= 0 }) {
        let labels = integers.map { Int64($0!) }
        let largest = Int(labels.max()!)
        guard largest < Self.maximumClassCount else {
          let r = labels.firstIndex(of: Int64(largest))!
          throw error(
            r, targetColumn,
            "class label \(largest) is too large; expected integer labels below \(Self.maximumClassCount)")
        }
        self.target = .classes(IntTensor(shape: [n], data: labels), classNames: (0...largest).map(String.init))
      } else {
        let names = Set(cells).sorted()
        let index = Dictionary(uniqueKeysWithValues: names.enumerated().map { ($0.element, Int64($0.offset)) })
        self.target = .classes(IntTensor(shape: [n], data: cells.map { index[$0]! }), classNames: names)
      }
    }
  }

  /// The largest number of classes integer labels may imply (a label beyond it is surely not a class index).
  public static let maximumClassCount = 1 << 16
}

extension String {
  /// The string without leading and trailing spaces and tabs.
  fileprivate var trimmingSpaces: String {
    let scalars = unicodeScalars
    guard let first = scalars.firstIndex(where: { $0 != " " && $0 != "\t" }) else { return "" }
    let last = scalars.lastIndex(where: { $0 != " " && $0 != "\t" })!
    return String(scalars[first...last])
  }
}
