// Placeholder until KilnCLITests has tests of its own.
import Testing
@Test func KilnCLITestsBuilds() {}
