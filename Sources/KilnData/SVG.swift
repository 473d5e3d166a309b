// SVG building blocks shared by the charts: elements with escaped attributes and text.

/// One SVG element with its attributes in the given order (values escaped): empty (`<name …/>`), with escaped
/// text content, or only opened (`open`, for the root).
func element(_ name: String, _ attributes: [(String, String)], text: String? = nil, open: Bool = false)
  -> String
{
  let written = attributes.map { " \($0.0)=\"\(escaped($0.1))\"" }.joined()
  if open { return "<\(name)\(written)>" }
  guard let text else { return "<\(name)\(written)/>" }
  return "<\(name)\(written)>\(escaped(text))</\(name)>"
}

/// `element` with attributes written as a literal, in order.
func element(
  _ name: String, _ attributes: KeyValuePairs<String, String>, text: String? = nil, open: Bool = false
) -> String {
  element(name, attributes.map { ($0.key, $0.value) }, text: text, open: open)
}

/// `text` with the five XML special characters escaped.
func escaped(_ text: String) -> String {
  var out = ""
  for c in text {
    switch c {
    case "&": out += "&amp;"
    case "<": out += "&lt;"
    case ">": out += "&gt;"
    case "\"": out += "&quot;"
    case "'": out += "&apos;"
    // XML 1.0 forbids most control characters even when escaped.
    case _ where c.unicodeScalars.allSatisfy({ $0.value < 0x20 }): out += " "
    default: out.append(c)
    }
  }
  return out
}
