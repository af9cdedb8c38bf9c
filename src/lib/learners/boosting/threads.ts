/**
 * The worker threads of the fit (chunks.ts) and of batch prediction (predictor.ts): shared
 * memory, a worker started from source text (`eval`: the same code runs from the sources,
 * tsc's output and the bundle), and a synchronous wait for it.
 *
 * A worker claims its work by setting a claim slot of its control array from 0 to 1 when it
 * starts. One that has not within START_TIMEOUT_MS (no thread to be had) is claimed away: the
 * slot set to 2, it exits without running anything, and the caller does that work itself.
 */
import { Worker } from "node:worker_threads"

/** From this many rows on, the per-row work is split between two threads. */
export const PARALLEL_ROWS = 1 << 17

/** How long a worker may take to start before the calling thread does its work. */
const START_TIMEOUT_MS = 10_000

/** A typed array over a new SharedArrayBuffer of `bytes` bytes. */
export const shared = <A>(make: (b: SharedArrayBuffer) => A, bytes: number): A => make(new SharedArrayBuffer(Math.max(8, bytes)))

/** A worker running `source` (with `require`) on `workerData`; null when none can be made. */
export const startWorker = (source: string, workerData: unknown): Worker | null => {
  try {
    const worker = new Worker(source, { eval: true, workerData })
    worker.unref()
    // its failures reach the caller through the control array (or the timeouts below)
    worker.on("error", () => undefined)
    return worker
  } catch {
    return null
  }
}

/**
 * Waits until ctrl[doneAt] holds `done`. False when the worker had not claimed its work
 * (ctrl[claimAt]) within START_TIMEOUT_MS: it now never will, and the caller does it. Throws
 * when a worker that did claim it takes over `timeoutMs`.
 */
export const awaitWorker = (ctrl: Int32Array, doneAt: number, done: number, claimAt: number, timeoutMs: number, what: string): boolean => {
  const started = Date.now()
  for (;;) {
    const now = Atomics.load(ctrl, doneAt)
    if (now === done) return true
    Atomics.wait(ctrl, doneAt, now, 100)
    if (Atomics.load(ctrl, doneAt) === done) return true
    const waited = Date.now() - started
    if (waited > START_TIMEOUT_MS && Atomics.compareExchange(ctrl, claimAt, 0, 2) === 0) return false
    if (waited > timeoutMs) throw new Error(`gradient boosting: ${what} did not finish within ${timeoutMs / 1000} s`)
  }
}
