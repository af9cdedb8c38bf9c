/**
 * `serve --workers N`: a node:cluster primary that runs N server processes behind one port,
 * so that every core serves. A worker that dies is replaced, at most `MAX_RESTARTS` times a
 * minute; SIGTERM or SIGINT stops them all and the primary exits once they have. A worker
 * that fails before it was ever ready (a bad config) stops them all, and the primary exits
 * with that worker's code.
 *
 * The primary listens and hands each connection to the next ready worker in turn (the
 * socket itself, over the IPC channel; the primary reads nothing from it), so the
 * workers hold equal numbers of connections. node:cluster's own round robin gives the
 * next connection to whichever worker acknowledged its previous one first, and split the
 * 64 keep-alive connections of wrk -c 64 anywhere from 20/62 to 45/37. A socket sent over
 * IPC still waits for the worker to acknowledge the one before it, which a worker does
 * when its event loop turns: the server's scheduler keeps those turns short (see
 * http/SlicedScheduler.ts).
 *
 * The workers start with a young generation of `YOUNG_GENERATION_MB` (V8's default grows to
 * 16 MB): a request's objects live as long as the request, and at 32 connections per worker
 * many requests were in flight at each scavenge, so they survived it, were copied and then
 * promoted, and the old generation filled up: per 10,000 predictions, 310-490 scavenges and
 * 10-32 mark-compacts with the default, 100 and 6-7 with 32 MB, for half the scavenging time
 * (64 MB did no better). The flags come before the primary's own node flags, which win.
 */
import cluster, { type Worker } from "node:cluster"
import * as NodeNet from "node:net"
import { WORKER_CONNECTION, WORKER_READY } from "../http/Handoff.js"

const MAX_RESTARTS = 10

/** The size of each worker's young generation (V8 semi-spaces, in MB). */
export const YOUNG_GENERATION_MB = 32

/** The node flags of a worker: the young generation, then the primary's own flags. */
export const workerExecArgv = (primaryExecArgv: ReadonlyArray<string>) =>
  [`--min-semi-space-size=${YOUNG_GENERATION_MB}`, `--max-semi-space-size=${YOUNG_GENERATION_MB}`, ...primaryExecArgv]

export const isClusterWorker = () => cluster.isWorker

export interface PublicAddress {
  readonly port: number
  readonly host: string
}

/**
 * Run the primary: listen on `address` and hand the connections to the workers; resolves
 * with the exit code once every worker has stopped, or rejects with the error of a port
 * that cannot be listened on (EADDRINUSE, say) once they have.
 */
export const superviseWorkers = (count: number, address: PublicAddress, log: (line: string) => void): Promise<number> =>
  new Promise((resolveCode, reject) => {
    let listenError: Error | null = null
    const resolve = (code: number) => (listenError === null ? resolveCode(code) : reject(listenError))
    let stopping = false
    let exitCode = 0
    const restarts: Array<number> = []
    const listened = new Set<number>()
    // the workers that serve, in the order they are handed connections
    let ready: Array<Worker> = []
    let next = 0
    const server = NodeNet.createServer({ pauseOnConnect: true, noDelay: true }, (socket) => {
      if (ready.length === 0) {
        socket.destroy()
        return
      }
      const worker = ready[next++ % ready.length]!
      worker.send(WORKER_CONNECTION, socket, { keepOpen: false }, (e) => {
        if (e !== null) socket.destroy()
      })
    })
    const fork = () => {
      const worker = cluster.fork()
      worker.on("message", (m: unknown) => {
        if (m !== WORKER_READY || listened.has(worker.id) || stopping) return
        listened.add(worker.id)
        ready.push(worker)
        log(`worker ${worker.process.pid} serves (${ready.length} of ${count})`)
        // the port is opened once a worker serves: until then a client is refused, not dropped
        listen()
      })
    }
    const stopAll = (code: number) => {
      stopping = true
      exitCode = code
      ready = []
      server.close()
      const live = Object.values(cluster.workers ?? {})
      if (live.length === 0) resolve(code)
      for (const w of live) w?.process.kill("SIGTERM")
    }
    server.once("error", (e) => {
      listenError = e
      stopAll(1)
    })
    let listening = false
    const listen = () => {
      if (listening) return
      listening = true
      server.listen({ port: address.port, host: address.host }, () => {
        const bound = server.address()
        const port = typeof bound === "object" && bound !== null ? bound.port : address.port
        log(`Listening on http://${address.host}:${port} (${count} worker processes)`)
      })
    }
    cluster.setupPrimary({ execArgv: workerExecArgv(process.execArgv) })
    for (let i = 0; i < count; i++) fork()
    cluster.on("exit", (worker, code, signal) => {
      ready = ready.filter((w) => w.id !== worker.id)
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
