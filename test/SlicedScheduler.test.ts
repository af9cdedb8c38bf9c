/** The server's scheduler (http/SlicedScheduler.ts): microtasks within a slice, the event loop between slices. */
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { SlicedScheduler } from "../src/http/SlicedScheduler.js"

const busy = (ms: number) => {
  const end = performance.now() + ms
  while (performance.now() < end) {
    // a fiber's work
  }
}

const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve))

describe("SlicedScheduler", () => {
  it("runs ready fibers at once, in microtasks, first come first served", async () => {
    const scheduler = new SlicedScheduler(5)
    const log: Array<string> = []
    setImmediate(() => log.push("event loop"))
    for (const name of ["a", "b", "c"]) scheduler.scheduleTask(() => log.push(name))
    await Promise.resolve()
    assert.deepStrictEqual(log, ["a", "b", "c"])
    await nextTurn()
    assert.deepStrictEqual(log, ["a", "b", "c", "event loop"])
  })

  it("runs at most a slice of fibers a turn: the event loop polls between slices", async () => {
    const scheduler = new SlicedScheduler(5)
    const ran: Array<number> = []
    // what the event loop does between slices: here, counting the fibers that ran before it
    const turns: Array<number> = []
    const poll = () => {
      turns.push(ran.length)
      if (ran.length < 40) setImmediate(poll)
    }
    setImmediate(poll)
    for (let i = 0; i < 40; i++) scheduler.scheduleTask(() => { busy(1); ran.push(i) })
    while (ran.length < 40) await nextTurn()
    assert.deepStrictEqual(ran, Array.from({ length: 40 }, (_, i) => i))
    // 1-ms fibers in 5-ms slices: about 5 between two polls (one more when a fiber ends past the slice), never all 40
    const between = turns.map((n, k) => n - (k === 0 ? 0 : turns[k - 1]!)).filter((n) => n > 0)
    assert.isAtLeast(between.length, 5, turns.join(" "))
    for (const n of between) assert.isAtMost(n, 7, turns.join(" "))
  })

  it.effect("runs Effect's fibers", () =>
    Effect.gen(function*() {
      const order: Array<number> = []
      yield* Effect.forEach(Array.from({ length: 20 }, (_, i) => i), (i) =>
        Effect.zipRight(Effect.yieldNow(), Effect.sync(() => order.push(i))), { concurrency: 5 })
      assert.strictEqual(order.length, 20)
    }).pipe(Effect.withScheduler(new SlicedScheduler(5))))
})
