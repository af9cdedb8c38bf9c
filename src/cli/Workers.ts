/**
 * `serve --workers N`: a node:cluster primary that runs N server processes behind one port,
 * so that every core serves. A worker that dies is replaced, at most `MAX_RESTARTS` times a
 * minute; SIGTERM or SIGINT stops them all and the primary exits once they have. A worker
 * that fails before it was ever ready (a bad config) stops them all, and the primary exits
 * with that worker's code.
 *
 * The workers share one listening socket (node:cluster's SCHED_NONE: the primary opens it,
 * each worker accepts from it), so a connection goes straight to a worker's event loop and
 * a busy worker takes fewer new ones. The primary handed each connection over before (its
 * socket over the IPC channel): a handle waits for the worker to acknowledge the one before
 * it, which a busy worker does once a turn of its event loop, so the 64 connections of
 * wrk -c 64 reached their workers over about half a second and their first requests made
 * the p99 of a 10 s run (80 to 215 ms against 55 to 70 ms in three alternating pairs).
 * The split is the kernel's: wrk's 64 connections split from 31/33 to 47/17 in eight runs
 * (the p99 stayed at 38 to 86 ms), and a burst of 32 connections to an idle server once all
 * went to one worker; sequential connections to an idle server go to either.
 *
 * The workers start with a young generation of `YOUNG_GENERATION_MB` (V8's default grows to
 * 16 MB): a request's objects live as long as the request, and at 32 connections per worker
 * many requests were in flight at each scavenge, so they survived it, were copied and then
 * promoted, and the old generation filled up: per 10,000 predictions, 310-490 scavenges and
 * 10-32 mark-compacts with the default, 100 and 6-7 with 32 MB, for half the scavenging time
 * (64 MB did no better). The flags come before the primary's own node flags, which win.
 *
 * The workers' allocators keep the memory they free for a while (`ALLOCATOR_ENV`), as the
 * prediction log's writes free and take again the same few MB every batch. With glibc's and
 * DuckDB's defaults, one worker under wrk -c 64 took 51,000 page faults, 215 munmaps and 638
 * madvises in 8 s (fresh memory costs about 13 µs a page on the machines measured, and
 * munmap stops every thread of the process that faults meanwhile); with these settings
 * 12,500, 19 and 46, and the p99 was lower in three of four alternating pairs (53, 56, 51,
 * 101 ms against 184, 99, 68, 79). A variable the user set comes after ours, and wins.
 */
import cluster from "node:cluster"
import { isWorkerReady } from "../http/WorkerReady.js"

const MAX_RESTARTS = 10

/** The size of each worker's young generation (V8 semi-spaces, in MB). */
export const YOUNG_GENERATION_MB = 32

/** The node flags of a worker: the young generation, then the primary's own flags. */
export const workerExecArgv = (primaryExecArgv: ReadonlyArray<string>) =>
  [`--min-semi-space-size=${YOUNG_GENERATION_MB}`, `--max-semi-space-size=${YOUNG_GENERATION_MB}`, ...primaryExecArgv]

/**
 * The allocators' settings of a worker: glibc keeps up to 256 MB it freed and serves blocks
 * under 32 MB from its heaps, where they are used again, rather than from fresh mappings;
 * DuckDB's jemalloc returns freed pages to the system after 30 s rather than its own short delay.
 */
export const ALLOCATOR_ENV = {
  GLIBC_TUNABLES: "glibc.malloc.trim_threshold=268435456:glibc.malloc.mmap_threshold=33554432",
  DUCKDB_JE_MALLOC_CONF: "dirty_decay_ms:30000,muzzy_decay_ms:30000"
} as const

/** A worker's allocator variables: ours, then the user's own setting of the same variable (later settings win). */
export const workerEnv = (env: Readonly<Record<string, string | undefined>>): Record<string, string> => ({
  GLIBC_TUNABLES: env.GLIBC_TUNABLES ? `${ALLOCATOR_ENV.GLIBC_TUNABLES}:${env.GLIBC_TUNABLES}` : ALLOCATOR_ENV.GLIBC_TUNABLES,
  DUCKDB_JE_MALLOC_CONF: env.DUCKDB_JE_MALLOC_CONF ? `${ALLOCATOR_ENV.DUCKDB_JE_MALLOC_CONF},${env.DUCKDB_JE_MALLOC_CONF}` : ALLOCATOR_ENV.DUCKDB_JE_MALLOC_CONF
})

export const isClusterWorker = () => cluster.isWorker

export interface PublicAddress {
  readonly port: number
  readonly host: string
}

/**
 * Run the primary: start the workers, which listen on `address` together; resolves with the
 * exit code once every worker has stopped. A port that cannot be listened on (EADDRINUSE, say)
 * fails the first worker, which says so; the primary exits with its code.
 */
export const superviseWorkers = (count: number, address: PublicAddress, log: (line: string) => void): Promise<number> =>
  new Promise((resolve) => {
    let stopping = false
    let exitCode = 0
    const restarts: Array<number> = []
    const listened = new Set<number>()
    let announced = false
    const fork = () => {
      const worker = cluster.fork(workerEnv(process.env))
      worker.on("message", (m: unknown) => {
        if (!isWorkerReady(m) || listened.has(worker.id) || stopping) return
        listened.add(worker.id)
        log(`worker ${worker.process.pid} serves (${listened.size} of ${count})`)
        if (!announced) {
          announced = true
          log(`Listening on http://${address.host}:${m.port} (${count} worker processes)`)
        }
      })
    }
    const stopAll = (code: number) => {
      stopping = true
      exitCode = code
      const live = Object.values(cluster.workers ?? {})
      if (live.length === 0) resolve(code)
      for (const w of live) w?.process.kill("SIGTERM")
    }
    // the workers accept from the socket the primary opens for them (set before the first fork)
    cluster.schedulingPolicy = cluster.SCHED_NONE
    cluster.setupPrimary({ execArgv: workerExecArgv(process.execArgv) })
    for (let i = 0; i < count; i++) fork()
    cluster.on("exit", (worker, code, signal) => {
      if (stopping) {
        if (Object.keys(cluster.workers ?? {}).length === 0) resolve(exitCode)
        return
      }
      if (!listened.has(worker.id) && code !== 0 && code !== null) {
        log(`worker ${worker.process.pid} could not start (exit ${code}); stopping`)
        stopAll(code)
        return
      }
      const now = Date.now()
      while (restarts.length > 0 && now - restarts[0]! > 60_000) restarts.shift()
      if (restarts.length >= MAX_RESTARTS) {
        log(`worker ${worker.process.pid} exited (${signal ?? code}); ${MAX_RESTARTS} restarts within a minute, giving up`)
        stopAll(1)
        return
      }
      restarts.push(now)
      log(`worker ${worker.process.pid} exited (${signal ?? code}); starting another`)
      fork()
    })
    const stop = () => {
      if (!stopping) stopAll(0)
    }
    process.once("SIGTERM", stop)
    process.once("SIGINT", stop)
  })
