// Placeholder until KilnFrontendTests has tests of its own.
import Testing
@Test func KilnFrontendTestsBuilds() {}
