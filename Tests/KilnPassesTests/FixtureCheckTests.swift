// The mini-FileCheck the pass fixtures rely on: it must pass what matches and fail on each kind of mismatch.
import KilnTestSupport
import Testing

@Suite struct FixtureCheckTests {
  let text = """
    graph g {
      %0 = input x() : f32[4]
      %1 = relu r(%0) : f32[4]
      %2 = dense fc(%1) {units: 2} : f32[2]
      output y = %2
    }
    """

  func check(_ directives: String) -> [String] {
    FileCheck.match(FileCheck.directives(in: directives), against: text)
  }

  @Test func parsesDirectivesWithTheirLines() {
    let d = FileCheck.directives(in: "network n\n# CHECK: a b \n  # CHECK-NEXT:c\n#CHECK-NOT: d\n# CHECKS: no\n")
    #expect(
      d == [
        FileCheck.Directive(.check, "a b", line: 2), FileCheck.Directive(.next, "c", line: 3),
        FileCheck.Directive(.not, "d", line: 4),
      ])
  }

  @Test func acceptsMatchingDirectives() {
    #expect(check("# CHECK: %0 = input x\n# CHECK-NEXT: relu r(%0)\n# CHECK-NOT: conv\n# CHECK: output y = %2") == [])
    // A CHECK-NOT only looks between its neighbours: `relu` appears, but before the previous match.
    #expect(check("# CHECK: relu r\n# CHECK-NOT: relu\n# CHECK: dense") == [])
  }

  @Test func failsOnAMissingCheck() {
    let failures = check("# CHECK: relu r\n# CHECK: conv")
    #expect(failures.count == 1)
    #expect(failures.first?.contains("line 2: CHECK: 'conv' not found") == true)
  }

  @Test func failsOnAnOutOfOrderCheck() {
    #expect(check("# CHECK: dense fc\n# CHECK: relu r").count == 1)
  }

  @Test func failsOnAWrongCheckNext() {
    let failures = check("# CHECK: input x\n# CHECK-NEXT: dense fc")
    #expect(failures.count == 1)
    #expect(failures.first?.contains("CHECK-NEXT: 'dense fc' not on output line 3") == true)
    #expect(check("# CHECK-NEXT: graph g").first?.contains("no previous match") == true)
    #expect(check("# CHECK: output y\n# CHECK-NEXT: }\n# CHECK-NEXT: anything").first?.contains("the end of the output") == true)
  }

  @Test func failsOnAPresentCheckNot() {
    let between = check("# CHECK: input x\n# CHECK-NOT: relu\n# CHECK: dense fc")
    #expect(between.count == 1)
    #expect(between.first?.contains("CHECK-NOT: 'relu' found on output line 3") == true)
    // A trailing CHECK-NOT covers the rest of the text.
    #expect(check("# CHECK: input x\n# CHECK-NOT: output y").count == 1)
  }

  @Test func failsWhenNothingIsChecked() {
    #expect(check("# CHECK-NOT: conv").count == 1)
    #expect(check("no directives here").count == 1)
  }
}
