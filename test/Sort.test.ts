/** The radix sort against the engine's comparison sort, on the values that trip sorts up. */
import { assert, describe, it } from "@effect/vitest"
import { presentValues, radixSortInPlace, sortedPresent } from "../src/lib/Sort.js"
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

describe("presentValues", () => {
  const rand = prng(7)
  it("gives the sorted present values, the missing rate and the mean summed in the column's order", () => {
    const xs = Float64Array.from({ length: 40_000 }, (_, i) => (i % 9 === 0 ? Number.NaN : i % 9 === 1 ? -0 : (rand() - 0.3) * 1e6))
    const present = xs.filter((v) => !Number.isNaN(v))
    let sum = 0
    for (const v of present) sum += v
    const r = presentValues(xs)
    assert.isTrue(same(r.sorted, present.map((v) => (v === 0 ? 0 : v)).sort()))
    assert.strictEqual(r.mean, sum / present.length)
    assert.strictEqual(r.missingRate, (xs.length - present.length) / xs.length)
    assert.deepStrictEqual(presentValues(Float64Array.from([Number.NaN, Number.NaN])), { sorted: new Float64Array(0), missingRate: 1, mean: null })
    assert.deepStrictEqual(presentValues(new Float64Array(0)), { sorted: new Float64Array(0), missingRate: 0, mean: null })
  })

  it("sorts values that differ only in their low bits, or across the two words, as the comparison sort does", () => {
    const cases = [
      Float64Array.from({ length: 20_000 }, () => 1 + Math.floor(rand() * 4096) * Number.EPSILON),
      Float64Array.from({ length: 20_000 }, () => 1 + rand() * 1e-6),
      Float64Array.from({ length: 20_000 }, () => Math.round(rand() * 12_000)),
      Float64Array.from({ length: 20_000 }, () => -Math.round(rand() * 70))
    ]
    for (const xs of cases) assert.isTrue(same(radixSortInPlace(xs.slice()), xs.slice().sort()))
  })
})
