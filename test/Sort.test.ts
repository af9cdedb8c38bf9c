/** The radix sort against the engine's comparison sort, on the values that trip sorts up. */
import { assert, describe, it } from "@effect/vitest"
import { radixSortInPlace, sortedPresent } from "../src/lib/Sort.js"
import { prng } from "../src/programs/GenerateData.js"

const same = (a: Float64Array, b: Float64Array) => a.length === b.length && a.every((v, i) => Object.is(v, b[i]))

describe("radix sort", () => {
  const rand = prng(42)
  const special = [-0, 0, Infinity, -Infinity, Number.MIN_VALUE, -Number.MIN_VALUE, Number.MAX_VALUE, -Number.MAX_VALUE, 1, -1]
  const cases: Record<string, Float64Array> = {
    "whole numbers": Float64Array.from({ length: 50_000 }, () => Math.round(rand() * 700)),
    "doubles of both signs": Float64Array.from({ length: 50_000 }, () => (rand() - 0.5) * 1e9),
    "special values": Float64Array.from({ length: 20_000 }, (_, i) => special[i % special.length]! * (i % 7 === 0 ? rand() : 1)),
    "one value": new Float64Array(10_000).fill(3.5),
    small: Float64Array.from([3, -1, 2])
  }
  for (const [name, xs] of Object.entries(cases)) {
    it(`sorts ${name} as Float64Array.prototype.sort does`, () => {
      assert.isTrue(same(radixSortInPlace(xs.slice()), xs.slice().sort()))
    })
  }

  it("sortedPresent leaves out NaN and writes negative zero as zero", () => {
    const xs = Float64Array.from({ length: 30_000 }, (_, i) => (i % 5 === 0 ? Number.NaN : i % 5 === 1 ? -0 : rand() - 0.5))
    const expected = xs.filter((v) => !Number.isNaN(v)).map((v) => (v === 0 ? 0 : v)).sort()
    assert.isTrue(same(sortedPresent(xs), expected))
    assert.strictEqual(sortedPresent(Float64Array.from([Number.NaN])).length, 0)
  })
})
