/**
 * `serve --workers N`: a node:cluster primary that runs N server processes sharing one port,
 * so that every core serves. A worker that dies is replaced, at most `MAX_RESTARTS` times a
 * minute; SIGTERM or SIGINT stops them all and the primary exits once they have. A worker
 * that fails before it ever listened (a bad config, a port in use) stops them all, and the
 * primary exits with that worker's code.
 */
import cluster from "node:cluster"

const MAX_RESTARTS = 10

export const isClusterWorker = () => cluster.isWorker

/** Run the primary: resolves with the exit code once every worker has stopped. */
export const superviseWorkers = (count: number, log: (line: string) => void): Promise<number> =>
  new Promise((resolve) => {
    let stopping = false
    let exitCode = 0
    const restarts: Array<number> = []
    const listened = new Set<number>()
    const fork = () => cluster.fork()
    const stopAll = (code: number) => {
      stopping = true
      exitCode = code
      const live = Object.values(cluster.workers ?? {})
      if (live.length === 0) resolve(code)
      for (const w of live) w?.process.kill("SIGTERM")
    }
    for (let i = 0; i < count; i++) fork()
    cluster.on("listening", (worker) => listened.add(worker.id))
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
