/** A lock file so two runs (cron overlapping a slow run, say) never work at once. */
import { Effect } from "effect"
import * as NodeOs from "node:os"
import * as NodePath from "node:path"
import { LockHeld } from "../domain/Errors.js"
import { AppConfig } from "../services/AppConfig.js"
import { FileStore } from "../services/FileStore.js"

interface LockInfo {
  readonly pid: number
  readonly host: string
  readonly startedAt: string
}

const alive = (pid: number) => {
  try {
    process.kill(pid, 0)
    return true
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM"
  }
}

export const lockPath = (outputFolder: string) => NodePath.join(outputFolder, ".drs.lock")

const acquire = Effect.gen(function*() {
  const store = yield* FileStore
  const config = yield* AppConfig
  const path = lockPath(config.output_folder_path)
  const mine: LockInfo = { pid: process.pid, host: NodeOs.hostname(), startedAt: new Date().toISOString() }
  for (let attempt = 0; attempt < 2; attempt++) {
    if (yield* store.createExclusive(path, JSON.stringify(mine)).pipe(Effect.orDie)) return path
    const text = yield* store.readText(path).pipe(Effect.orElseSucceed(() => ""))
    let holder: LockInfo | undefined
    try {
      holder = JSON.parse(text) as LockInfo
    } catch {
      holder = undefined
    }
    const age = holder ? (Date.now() - Date.parse(holder.startedAt)) / 1000 : Number.POSITIVE_INFINITY
    const stale = holder === undefined ||
      (holder.host === mine.host && !alive(holder.pid)) ||
      age > config.lock_stale_seconds
    if (!stale) {
      return yield* new LockHeld({ path, holder: `pid ${holder!.pid} on ${holder!.host} since ${holder!.startedAt}` })
    }
    yield* Effect.logWarning(`removing stale lock ${path}${holder ? ` (pid ${holder.pid} since ${holder.startedAt})` : ""}`)
    yield* store.remove(path).pipe(Effect.orDie)
  }
  return yield* new LockHeld({ path, holder: "another process took the lock while a stale one was cleared" })
})

/** Run `self` holding the lock; it is released however `self` ends. */
export const withLock = <A, E, R>(self: Effect.Effect<A, E, R>) =>
  Effect.acquireUseRelease(
    acquire,
    () => self,
    (path) => Effect.flatMap(FileStore, (store) => store.remove(path).pipe(Effect.ignore))
  )
