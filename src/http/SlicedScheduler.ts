/**
 * The server's scheduler: fibers run in slices of at most `sliceMs`, one slice per turn of
 * the event loop (setImmediate), first come first served.
 *
 * Effect's default scheduler runs every ready fiber in microtasks, so a request's work runs
 * inside the socket callback that read it, and one turn of the event loop serves every
 * request that was ready: 32 connections on a busy worker made turns of 40 to 90 ms. A new
 * connection handed over by the primary (which waits for each to be acknowledged) got in
 * once a turn, so 64 connections opened at once reached their workers over 1 to 3 s. In
 * slices, the event loop polls its sockets every few ms whatever the load.
 */
import { FiberRef, type Fiber, type Scheduler } from "effect"

export class SlicedScheduler implements Scheduler.Scheduler {
  private queue: Array<Scheduler.Task> = []
  private next = 0
  private scheduled = false

  constructor(readonly sliceMs: number) {}

  shouldYield(fiber: Fiber.RuntimeFiber<unknown, unknown>): number | false {
    return fiber.currentOpCount > fiber.getFiberRef(FiberRef.currentMaxOpsBeforeYield)
      ? fiber.getFiberRef(FiberRef.currentSchedulingPriority)
      : false
  }

  scheduleTask(task: Scheduler.Task): void {
    this.queue.push(task)
    if (!this.scheduled) {
      this.scheduled = true
      setImmediate(this.drain)
    }
  }

  private readonly drain = () => {
    const end = performance.now() + this.sliceMs
    while (this.next < this.queue.length) {
      this.queue[this.next++]!()
      if (performance.now() >= end) break
    }
    if (this.next >= this.queue.length) {
      this.queue = []
      this.next = 0
      this.scheduled = false
    } else {
      this.queue = this.queue.slice(this.next)
      this.next = 0
      setImmediate(this.drain)
    }
  }
}
