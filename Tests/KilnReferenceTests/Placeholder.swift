// Placeholder until KilnReferenceTests has tests of its own.
import Testing
@Test func KilnReferenceTestsBuilds() {}
