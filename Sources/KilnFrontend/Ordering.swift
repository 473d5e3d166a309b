// Stable topological order of the layers, and the cycles that prevent one.

/// Orders values so each comes after the values it reads, keeping source order whenever possible.
enum Ordering {
  /// - Parameters:
  ///   - dependencies: for each value (in source order), the values it reads.
  ///   - excluded: values left out (they had errors); whatever reads them is left out too.
  /// - Returns: the placed values in order, and each cycle among the rest as a list of its members in
  ///   data-flow order (each feeds the next, the last feeds the first), starting at its earliest member.
  static func sort(dependencies: [[Int]], excluded: [Bool]) -> (order: [Int], cycles: [[Int]]) {
    let n = dependencies.count
    var pending = [Int](repeating: 0, count: n)
    var dependents = [[Int]](repeating: [], count: n)
    for (i, deps) in dependencies.enumerated() {
      let distinct = Set(deps)
      pending[i] = distinct.count
      for d in distinct.sorted() { dependents[d].append(i) }
    }
    // Kahn's algorithm, always taking the earliest ready value: the lexicographically smallest order,
    // which is source order itself whenever source order is valid.
    var ready = (0..<n).filter { pending[$0] == 0 && !excluded[$0] }.reversed() as [Int]  // sorted descending
    var order: [Int] = []
    var placed = [Bool](repeating: false, count: n)
    while let next = ready.popLast() {
      order.append(next)
      placed[next] = true
      for d in dependents[next] {
        pending[d] -= 1
        if pending[d] == 0 && !excluded[d] {
          // Insert keeping `ready` sorted descending, so popLast yields the smallest index.
          let at = ready.firstIndex { $0 < d } ?? ready.count
          ready.insert(d, at: at)
        }
      }
    }
    let rest = (0..<n).map { !placed[$0] && !excluded[$0] }
    let cycles = stronglyConnectedComponents(dependencies, within: rest)
      .filter { $0.count > 1 || dependencies[$0[0]].contains($0[0]) }
      .map { cyclePath(through: $0, dependents: dependents) }
      .sorted { $0[0] < $1[0] }
    return (order, cycles)
  }

  /// Tarjan's algorithm, iterative so deep chains cannot overflow the stack. Each component is sorted.
  private static func stronglyConnectedComponents(_ edges: [[Int]], within member: [Bool]) -> [[Int]] {
    let n = edges.count
    var index = [Int](repeating: -1, count: n)
    var low = [Int](repeating: 0, count: n)
    var onStack = [Bool](repeating: false, count: n)
    var stack: [Int] = []
    var counter = 0
    var components: [[Int]] = []
    for root in 0..<n where member[root] && index[root] == -1 {
      var work: [(node: Int, next: Int)] = []
      func visit(_ v: Int) {
        index[v] = counter
        low[v] = counter
        counter += 1
        stack.append(v)
        onStack[v] = true
        work.append((v, 0))
      }
      visit(root)
      while let top = work.last {
        let (v, i) = (top.node, top.next)
        if i < edges[v].count {
          work[work.count - 1].next += 1
          let w = edges[v][i]
          guard member[w] else { continue }
          if index[w] == -1 {
            visit(w)
          } else if onStack[w] {
            low[v] = min(low[v], index[w])
          }
          continue
        }
        work.removeLast()
        if let parent = work.last?.node { low[parent] = min(low[parent], low[v]) }
        guard low[v] == index[v] else { continue }
        var component: [Int] = []
        while let w = stack.popLast() {
          onStack[w] = false
          component.append(w)
          if w == v { break }
        }
        components.append(component.sorted())
      }
    }
    return components
  }

  /// A shortest cycle through the earliest member of a component, following data flow.
  private static func cyclePath(through component: [Int], dependents: [[Int]]) -> [Int] {
    let members = Set(component)
    let start = component[0]
    var cameFrom: [Int: Int] = [:]
    var queue = [start]
    var head = 0
    while head < queue.count {
      let v = queue[head]
      head += 1
      for w in dependents[v] where members.contains(w) {
        if w == start {
          var path = [v]
          while let p = cameFrom[path[path.count - 1]] { path.append(p) }
          return path.reversed()
        }
        if cameFrom[w] == nil {
          cameFrom[w] = v
          queue.append(w)
        }
      }
    }
    return component  // Unreachable for a strongly connected component; keeps the members named anyway.
  }
}
