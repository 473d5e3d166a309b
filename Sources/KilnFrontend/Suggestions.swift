// "Did you mean …?": the closest known word by edit distance.

/// Levenshtein distance between two words (insertions, deletions and substitutions cost 1).
func editDistance(_ a: String, _ b: String) -> Int {
  let a = Array(a.unicodeScalars)
  let b = Array(b.unicodeScalars)
  if a.isEmpty { return b.count }
  if b.isEmpty { return a.count }
  var previous = Array(0...b.count)
  var current = [Int](repeating: 0, count: b.count + 1)
  for i in 1...a.count {
    current[0] = i
    for j in 1...b.count {
      let substitution = previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1)
      current[j] = min(previous[j] + 1, current[j - 1] + 1, substitution)
    }
    swap(&previous, &current)
  }
  return previous[b.count]
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
