// Placeholder until KilnPassesTests has tests of its own.
import Testing
@Test func KilnPassesTestsBuilds() {}
