// CSV files (RFC 4180 with a header row) read into a table of text fields, each with its line and column.

/// A problem in a CSV file, at a line and column (both from 1), with what was expected.
public struct CSVError: Error, Hashable, Sendable, CustomStringConvertible {
  /// The file read.
  public var path: String
  /// The line the problem is on, from 1.
  public var line: Int
  /// The column (in characters) the problem is at, from 1.
  public var column: Int
  /// What is wrong and what was expected.
  public var message: String

  /// Creates an error at `line`:`column` of `path`.
  public init(path: String, line: Int, column: Int, _ message: String) {
    self.path = path
    self.line = line
    self.column = column
    self.message = message
  }

  /// `path:line:column: message`, as compilers print locations.
  public var description: String { "\(path):\(line):\(column): \(message)" }
}

/// Where a field starts in the file.
public struct CSVPosition: Hashable, Sendable {
  /// Line, from 1.
  public var line: Int
  /// Column in characters, from 1.
  public var column: Int
}

/// The text of a CSV file: a header row and records of the same width, every field with its position.
///
/// Accepted: fields separated by commas; records ended by LF, CRLF or a lone CR; a field in double quotes may hold
/// commas, line breaks and `""` for one quote; a leading UTF-8 byte-order mark is skipped; empty lines (the usual
/// blank last line included) are skipped. Rejected, with the position: a quote inside an unquoted field, text after a
/// closing quote, an unterminated quoted field, a record whose width differs from the header's, duplicate or empty
/// header names, a file without a header.
public struct CSVTable: Hashable, Sendable {
  /// The file the table was read from (used in messages).
  public var path: String
  /// The column names.
  public var header: [String]
  /// Every record after the header, each as wide as the header.
  public var rows: [[String]]
  /// `positions[r][c]`: where field c of record r starts (records only, not the header).
  public var positions: [[CSVPosition]]

  /// Reads and parses the CSV file at `path`.
  public static func read(_ path: String) throws -> CSVTable {
    let bytes = try FileBytes.read(path)
    guard let text = String(validating: bytes, as: UTF8.self) else {
      throw DataError(path: path, "not UTF-8 text; expected a CSV file")
    }
    return try parse(text, path: path)
  }

  /// Parses CSV `text`; `path` names it in errors.
  public static func parse(_ text: String, path: String) throws -> CSVTable {
    var reader = Reader(Array(text.unicodeScalars), path: path)
    guard let (header, headerPositions) = try reader.record() else {
      throw CSVError(path: path, line: 1, column: 1, "the file is empty; expected a header row of column names")
    }
    for (i, name) in header.enumerated() {
      let at = headerPositions[i]
      if name.isEmpty {
        throw CSVError(path: path, line: at.line, column: at.column, "column \(i + 1) of the header has no name")
      }
      if header[..<i].contains(name) {
        throw CSVError(
          path: path, line: at.line, column: at.column, "column name '\(name)' appears twice in the header")
      }
    }
    var rows: [[String]] = []
    var positions: [[CSVPosition]] = []
    while let (fields, at) = try reader.record() {
      guard fields.count == header.count else {
        let where_ = fields.count > header.count ? at[header.count] : reader.lastRecordEnd
        throw CSVError(
          path: path, line: where_.line, column: where_.column,
          "the record has \(fields.count) fields; expected \(header.count), as the header has")
      }
      rows.append(fields)
      positions.append(at)
    }
    return CSVTable(path: path, header: header, rows: rows, positions: positions)
  }

  /// Splits scalars into records, tracking line and column.
  private struct Reader {
    let s: [Unicode.Scalar]
    let path: String
    var i = 0
    var line = 1
    var column = 1
    /// Where the last record read ended (its line break, or the end of the text).
    var lastRecordEnd = CSVPosition(line: 1, column: 1)

    init(_ scalars: [Unicode.Scalar], path: String) {
      s = scalars.first == "\u{FEFF}" ? Array(scalars.dropFirst()) : scalars
      self.path = path
    }

    var position: CSVPosition { CSVPosition(line: line, column: column) }

    func error(_ at: CSVPosition, _ message: String) -> CSVError {
      CSVError(path: path, line: at.line, column: at.column, message)
    }

    /// Consumes a line break at `i` if there is one.
    mutating func lineBreak() -> Bool {
      guard i < s.count, s[i] == "\n" || s[i] == "\r" else { return false }
      if s[i] == "\r", i + 1 < s.count, s[i + 1] == "\n" { i += 1 }
      i += 1
      line += 1
      column = 1
      return true
    }

    mutating func advance() {
      i += 1
      column += 1
    }

    /// The next non-empty record, or nil at the end of the text.
    mutating func record() throws -> ([String], [CSVPosition])? {
      while lineBreak() {}
      guard i < s.count else { return nil }
      var fields: [String] = []
      var starts: [CSVPosition] = []
      while true {
        starts.append(position)
        fields.append(try field())
        if i < s.count, s[i] == "," {
          advance()
          continue
        }
        lastRecordEnd = position
        _ = lineBreak()
        return (fields, starts)
      }
    }

    /// One field, quoted or not; stops before the comma or line break that ends it.
    mutating func field() throws -> String {
      var out = String.UnicodeScalarView()
      guard i < s.count, s[i] == "\"" else {
        while i < s.count, s[i] != ",", s[i] != "\n", s[i] != "\r" {
          if s[i] == "\"" {
            throw error(
              position,
              "a quote inside an unquoted field; expected the whole field in quotes, with \"\" for each quote in it")
          }
          out.append(s[i])
          advance()
        }
        return String(out)
      }
      let open = position
      advance()
      while true {
        guard i < s.count else {
          throw error(open, "the quoted field starting here is never closed; expected a closing \"")
        }
        if s[i] == "\"" {
          advance()
          guard i < s.count, s[i] == "\"" else { break }
          out.append("\"")
          advance()
        } else if s[i] == "\n" || s[i] == "\r" {
          let isCRLF = s[i] == "\r" && i + 1 < s.count && s[i + 1] == "\n"
          out.append(s[i])
          if isCRLF { out.append("\n") }
          _ = lineBreak()
        } else {
          out.append(s[i])
          advance()
        }
      }
      if i < s.count, s[i] != ",", s[i] != "\n", s[i] != "\r" {
        throw error(position, "text after the closing quote of a field; expected ',' or the end of the line")
      }
      return String(out)
    }
  }
}
