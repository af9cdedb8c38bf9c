/**
 * `serve --workers N`: a node:cluster primary that runs N server processes sharing one port,
 * so that every core serves. A worker that dies is replaced, at most `MAX_RESTARTS` times a
 * minute; SIGTERM or SIGINT stops them all and the primary exits once they have.
 */
import cluster from "node:cluster"

const MAX_RESTARTS = 10

export const isClusterWorker = () => cluster.isWorker

/** Run the primary: resolves with the exit code once every worker has stopped. */
export const superviseWorkers = (count: number, log: (line: string) => void): Promise<number> =>
  new Promise((resolve) => {
    let stopping = false
    const restarts: Array<number> = []
    const fork = () => cluster.fork()
    for (let i = 0; i < count; i++) fork()
    cluster.on("exit", (worker, code, signal) => {
      if (stopping) {
        if (Object.keys(cluster.workers ?? {}).length === 0) resolve(0)
        return
      }
      const now = Date.now()
      while (restarts.length > 0 && now - restarts[0]! > 60_000) restarts.shift()
      if (restarts.length >= MAX_RESTARTS) {
        log(`worker ${worker.process.pid} exited (${signal ?? code}); ${MAX_RESTARTS} restarts within a minute, giving up`)
        stopping = true
        for (const w of Object.values(cluster.workers ?? {})) w?.process.kill("SIGTERM")
        if (Object.keys(cluster.workers ?? {}).length === 0) resolve(1)
        return
      }
      restarts.push(now)
      log(`worker ${worker.process.pid} exited (${signal ?? code}); starting another`)
      fork()
    })
    const stop = () => {
      if (stopping) return
      stopping = true
      const live = Object.values(cluster.workers ?? {})
      if (live.length === 0) resolve(0)
      for (const w of live) w?.process.kill("SIGTERM")
    }
    process.once("SIGTERM", stop)
    process.once("SIGINT", stop)
  })
