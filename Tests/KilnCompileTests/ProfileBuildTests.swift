// The profiling build (-DKILN_PROFILE) against the normal one: same C text, same outputs bit for bit, and only
// the profiling build exports <name>_profile and reports one time per step.
import Foundation
import KilnCodegenC
import KilnData
import KilnDriver
import KilnHarness
import KilnIR
import KilnTestSupport
import Testing

@Suite(.serialized) struct ProfileBuildTests {
  struct Built {
    var model: CompiledModel
    var module: GeneratedModule
    var build: BuildResult
  }

  static func build(_ g: Graph, profile: Bool) throws -> Built {
    var options = CompileOptions()
    options.maxBatch = 3
    options.profile = profile
    let weights = try ParameterSource.parameters(for: g, weightsPath: nil, seed: 3)
    let (model, module, build) = try Compilation.load(g, specName: "\(g.name).kiln", options: options) { weights }
    return Built(model: model, module: module, build: build)
  }

  @Test(arguments: ["lenet5.kiln", "resnet_block.kiln", "inception_block.kiln"])
  func profiledAndNormalBuildsAgreeBitForBit(_ file: String) throws {
    let g = try exampleGraph(file)
    let normal = try Self.build(g, profile: false)
    let profiled = try Self.build(g, profile: true)
    // One C text, two libraries: the macro is a compiler flag, and it keys the cache.
    #expect(normal.module.source == profiled.module.source)
    #expect(normal.build.key != profiled.build.key)
    #expect(profiled.build.command.contains("-DKILN_PROFILE"))
    #expect(!normal.build.command.contains("-DKILN_PROFILE"))
    let inputs = randomInputs(g, n: 3, seed: 17).map(\.data)
    let a = try normal.model.infer(inputs, n: 3)
    let b = try profiled.model.infer(inputs, n: 3)
    #expect(a.map { $0.map(\.bitPattern) } == b.map { $0.map(\.bitPattern) })
  }

  @Test func aNormalBuildExportsNoProfileSymbol() throws {
    let normal = try Self.build(try exampleGraph("lenet5.kiln"), profile: false)
    #expect(throws: HarnessError.self) { try normal.model.library.address(of: "lenet5_profile") }
    #expect(!normal.model.isProfilingBuild)
    _ = try normal.model.infer(randomInputs(try exampleGraph("lenet5.kiln"), n: 1, seed: 1).map(\.data), n: 1)
    let error = #expect(throws: ModelError.self) { try normal.model.lastStepTimes() }
    #expect(error?.message.contains("built without -DKILN_PROFILE") == true)
    // The normal source still carries the brackets: macros that expand to nothing without the flag.
    #expect(normal.module.source.contains("KILN_STEP_BEGIN(0); k1_conv_c1("))
    #expect(normal.module.header.contains("#ifdef KILN_PROFILE"))
  }

  @Test func aProfilingBuildTimesEveryStepOfTheLastCall() throws {
    let g = try exampleGraph("resnet_block.kiln")
    let profiled = try Self.build(g, profile: true)
    #expect(profiled.model.isProfilingBuild)
    let before = try profiled.model.lastStepTimes()
    #expect(before.durationNanoseconds.allSatisfy { $0 == 0 }, "no call yet")
    let call = try PreparedInference(model: profiled.model, inputs: randomInputs(g, n: 2, seed: 4).map(\.data), n: 2)
    let wall = try call.run()
    let times = try profiled.model.lastStepTimes()
    #expect(times.names == profiled.module.program.steps.map(\.kernelName))
    #expect(times.durationNanoseconds.allSatisfy { $0 > 0 })
    #expect(times.startNanoseconds.first == 0)
    #expect(zip(times.startNanoseconds, times.startNanoseconds.dropFirst()).allSatisfy { $0 <= $1 })
    // Every step lies inside the call, one after another.
    for i in times.names.indices.dropLast() {
      #expect(times.startNanoseconds[i] + times.durationNanoseconds[i] <= times.startNanoseconds[i + 1])
    }
    let last = times.names.count - 1
    #expect(times.startNanoseconds[last] + times.durationNanoseconds[last] <= wall)
    // A failed call leaves the last successful run's times alone.
    #expect(throws: ModelError.self) { _ = try profiled.model.infer(randomInputs(g, n: 4, seed: 4).map(\.data), n: 4) }
    #expect(try profiled.model.lastStepTimes() == times)
  }
}
