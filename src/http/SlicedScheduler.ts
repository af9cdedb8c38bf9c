/**
 * The server's scheduler: fibers run in slices of at most `sliceMs` of each turn of the
 * event loop, first come first served.
 *
 * Effect's default scheduler runs every ready fiber in microtasks, so a request's work runs
 * inside the socket callback that read it, and one turn of the event loop serves every
 * request that was ready: 32 connections on a busy worker made turns of 40 to 90 ms, and
 * new connections (then handed over by the primary one a turn) waited 1 to 3 s. In slices,
 * the event loop polls its sockets every few ms whatever the load.
 *
 * A slice runs in microtasks, as the default scheduler does, right after the I/O that made
 * the fibers ready; once a turn has run `sliceMs` of fibers, the rest waits for the next
 * turn (setImmediate: after the event loop has polled its sockets). Running every slice from
 * setImmediate instead cost a third of a /health request's CPU and more of a prediction's.
 */
import { FiberRef, type Fiber, type Scheduler } from "effect"

export class SlicedScheduler implements Scheduler.Scheduler {
  private queue: Array<Scheduler.Task> = []
  private next = 0
  /** a drain is queued (a microtask or an immediate) */
  private scheduled = false
  /** when this turn's slice ends; 0: no fiber has run this turn yet */
  private sliceEnd = 0

  constructor(readonly sliceMs: number) {}

  shouldYield(fiber: Fiber.RuntimeFiber<unknown, unknown>): number | false {
    return fiber.currentOpCount > fiber.getFiberRef(FiberRef.currentMaxOpsBeforeYield)
      ? fiber.getFiberRef(FiberRef.currentSchedulingPriority)
      : false
  }

  scheduleTask(task: Scheduler.Task): void {
    this.queue.push(task)
    if (this.scheduled) return
    this.scheduled = true
    queueMicrotask(this.drain)
  }

  /** the turn is over (its check phase): the next fibers start a new slice */
  private readonly endTurn = () => {
    this.sliceEnd = 0
  }

  private readonly drain = () => {
    if (this.sliceEnd === 0) {
      this.sliceEnd = performance.now() + this.sliceMs
      setImmediate(this.endTurn)
    }
    while (this.next < this.queue.length && performance.now() < this.sliceEnd) this.queue[this.next++]!()
    if (this.next >= this.queue.length) {
      this.queue = []
      this.next = 0
      this.scheduled = false
    } else {
      // the slice is spent: the rest in the next turn, after the event loop has polled
      this.queue = this.queue.slice(this.next)
      this.next = 0
      setImmediate(this.drain)
    }
  }
}
