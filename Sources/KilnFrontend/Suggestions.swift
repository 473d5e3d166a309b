// "Did you mean …?": the closest known word by edit distance.

/// Edit distance between two words: insertions, deletions, substitutions and swaps of two neighbouring
/// letters each cost 1 (the optimal-string-alignment distance), so `dnese` is one edit from `dense`.
func editDistance(_ a: String, _ b: String) -> Int {
  let a = Array(a.unicodeScalars)
  let b = Array(b.unicodeScalars)
  if a.isEmpty { return b.count }
  if b.isEmpty { return a.count }
  // d[i][j]: distance between the first i letters of a and the first j letters of b.
  var d = [[Int]](repeating: [Int](repeating: 0, count: b.count + 1), count: a.count + 1)
  for i in 0...a.count { d[i][0] = i }
  for j in 0...b.count { d[0][j] = j }
  for i in 1...a.count {
    for j in 1...b.count {
      let cost = a[i - 1] == b[j - 1] ? 0 : 1
      d[i][j] = min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost)
      if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
        d[i][j] = min(d[i][j], d[i - 2][j - 2] + 1)
      }
    }
  }
  return d[a.count][b.count]
}

/// The candidate closest to `word`, when it is close enough to be a plausible typo
/// (at most a third of the longer word's letters changed, and at least one letter kept).
/// Ties go to the earlier candidate, so suggestions are deterministic.
func closestWord(to word: String, in candidates: [String]) -> String? {
  // NOTE: long garbage words are not compared: the distance is quadratic and no suggestion would be useful.
  guard word.unicodeScalars.count <= 64 else { return nil }
  var best: (word: String, distance: Int)?
  for candidate in candidates where candidate != word {
    let d = editDistance(word, candidate)
    let limit = max(1, max(word.count, candidate.count) / 3)
    guard d <= limit, d < candidate.count else { continue }
    if let b = best, b.distance <= d { continue }
    best = (candidate, d)
  }
  return best?.word
}
