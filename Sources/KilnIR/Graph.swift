// The graph: a value type holding nodes in topological order, named inputs and outputs.

/// The index of a node in `Graph.nodes`; a node's id is also the id of the value it produces.
public struct NodeID: Hashable, Comparable, Sendable, CustomStringConvertible {
  public var index: Int
  public init(_ index: Int) { self.index = index }
  public static func < (a: NodeID, b: NodeID) -> Bool { a.index < b.index }
  public var description: String { "%\(index)" }
}

/// One operation applied to earlier nodes' values.
public struct Node: Hashable, Sendable {
  public var id: NodeID
  /// Unique within the graph; parameters are named `<name>.weight`, `<name>.bias`, ….
  public var name: String
  public var op: Op
  public var inputs: [NodeID]
  /// The inferred type of the node's value; nil until shape inference has run.
  public var type: TensorType?
  /// Where the node was written, for diagnostics.
  public var location: SourceLocation?
  /// The names of the nodes passes merged into this one (a folded batch norm, fused activations and adds), in
  /// the order they ran; empty for a node as written. The profiler groups unfused layers under the kernel
  /// that replaced them by this list.
  public var absorbed: [String] = []

  public init(
    id: NodeID, name: String, op: Op, inputs: [NodeID], type: TensorType? = nil, location: SourceLocation? = nil
  ) {
    self.id = id
    self.name = name
    self.op = op
    self.inputs = inputs
    self.type = type
    self.location = location
  }
}

/// A named output of the network.
public struct GraphOutput: Hashable, Sendable {
  public var name: String
  public var node: NodeID
  public var location: SourceLocation?
  public init(name: String, node: NodeID, location: SourceLocation? = nil) {
    self.name = name
    self.node = node
    self.location = location
  }
}

/// A network: nodes in topological order (every input of a node comes before it).
public struct Graph: Hashable, Sendable {
  public var name: String
  public var nodes: [Node]
  public var outputs: [GraphOutput]
  /// The training section of the spec, when there is one.
  public var training: TrainingConfig?

  public init(name: String, nodes: [Node] = [], outputs: [GraphOutput] = [], training: TrainingConfig? = nil) {
    self.name = name
    self.nodes = nodes
    self.outputs = outputs
    self.training = training
  }

  public subscript(id: NodeID) -> Node {
    get { nodes[id.index] }
    set { nodes[id.index] = newValue }
  }

  /// Appends a node and returns its id.
  @discardableResult
  public mutating func add(
    _ name: String, _ op: Op, inputs: [NodeID] = [], location: SourceLocation? = nil
  ) -> NodeID {
    let id = NodeID(nodes.count)
    nodes.append(Node(id: id, name: name, op: op, inputs: inputs, location: location))
    return id
  }

  /// Input nodes of the given role, in order of declaration.
  public func inputs(role: Input.Role = .data) -> [Node] {
    nodes.filter {
      if case .input(let i) = $0.op { return i.role == role }
      return false
    }
  }

  /// The node with this name, if any.
  public func node(named name: String) -> Node? { nodes.first { $0.name == name } }

  /// For each node, the nodes that read its value (in node order).
  public func consumers() -> [NodeID: [NodeID]] {
    var result: [NodeID: [NodeID]] = [:]
    for n in nodes { for i in n.inputs { result[i, default: []].append(n.id) } }
    return result
  }

  /// The loss node appended from the training section, if any.
  public var lossNode: Node? {
    nodes.last { if case .loss = $0.op { return true } else { return false } }
  }
}
