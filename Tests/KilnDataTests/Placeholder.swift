// Placeholder until KilnDataTests has tests of its own.
import Testing
@Test func KilnDataTestsBuilds() {}
