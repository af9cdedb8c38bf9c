/**
 * Durable commit points, checked on the system calls of a real deployment (`strace -f -y`):
 * every file the database will name is written to a temporary name, fsynced, renamed, and its
 * folder fsynced, before the database's first write that names it.
 */
import { afterAll, assert, beforeAll, describe, it } from "@effect/vitest"
import { spawnSync } from "node:child_process"
import * as NodeFs from "node:fs"
import * as NodePath from "node:path"
import { MAIN, sampleProject } from "./support/Project.js"

let dir = ""

beforeAll(() => {
  dir = sampleProject("durable")
})

afterAll(() => {
  if (dir) NodeFs.rmSync(dir, { recursive: true, force: true })
})

type Event =
  | { readonly kind: "fsync"; readonly path: string }
  | { readonly kind: "rename"; readonly from: string; readonly to: string }
  | { readonly kind: "dbwrite"; readonly text: string }

/** The trace as events in the order the calls completed (an interrupted call counts where it resumed). */
const parseTrace = (text: string, cwd: string): Array<Event> => {
  const pending = new Map<string, string>()
  const events: Array<Event> = []
  for (const raw of text.split("\n")) {
    const m = /^(\d+)\s+(.*)$/.exec(raw)
    if (!m) continue
    const [, pid, rest] = m as unknown as [string, string, string]
    let call = rest
    if (call.endsWith("<unfinished ...>")) {
      pending.set(pid, call.slice(0, -"<unfinished ...>".length))
      continue
    }
    const resumed = /^<\.\.\. \w+ resumed>(.*)$/.exec(call)
    if (resumed) {
      call = (pending.get(pid) ?? "") + resumed[1]
      pending.delete(pid)
    }
    if (!/= 0$|= \d+$/.test(call)) continue
    const fsync = /^f(?:data)?sync\(\d+<([^>]*)>\)/.exec(call)
    if (fsync) {
      events.push({ kind: "fsync", path: fsync[1]! })
      continue
    }
    const rename = /^rename(?:at2?)?\((?:[^,]+, )?"([^"]+)", (?:[^,]+, )?"([^"]+)"/.exec(call)
    if (rename) {
      events.push({ kind: "rename", from: NodePath.resolve(cwd, rename[1]!), to: NodePath.resolve(cwd, rename[2]!) })
      continue
    }
    if (/^(?:p)?write(?:64)?\(\d+<[^>]*drs\.sqlite[^>]*>/.test(call)) events.push({ kind: "dbwrite", text: call })
  }
  return events
}

describe("durable commit points", () => {
  it("a deployment fsyncs each file, renames it, fsyncs its folder, and only then the database names it", () => {
    assert.strictEqual(spawnSync("strace", ["-V"]).status, 0, "strace is needed for this test")
    const tracePath = NodePath.join(dir, "trace.txt")
    const r = spawnSync("strace", [
      "-f", "-y", "-qq", "-s", "65536", "--seccomp-bpf",
      "-e", "trace=fsync,fdatasync,rename,renameat,renameat2,pwrite64,write",
      "-o", tracePath, process.execPath, MAIN, "fullprocess", "--no-apicalls", "--json"
    ], { cwd: dir, encoding: "utf8", timeout: 120_000 })
    assert.strictEqual(r.status, 0, r.stderr)
    const result = JSON.parse(r.stdout).result
    assert.strictEqual(result.outcome, "redeployed")
    const root = NodeFs.realpathSync(dir)
    const events = parseTrace(NodeFs.readFileSync(tracePath, "utf8"), root)

    const indexOf = (what: string, pred: (e: Event) => boolean, from = 0) => {
      const i = events.findIndex((e, j) => j >= from && pred(e))
      assert.isAtLeast(i, 0, `no ${what} in the trace`)
      return i
    }
    const fsyncOf = (path: string, from = 0) => indexOf(`fsync of ${path}`, (e) => e.kind === "fsync" && e.path === path, from)
    const renameTo = (path: string) => indexOf(`rename to ${path}`, (e) => e.kind === "rename" && e.to === path)
    const firstDbWriteNaming = (text: string) => indexOf(`database write naming ${text}`, (e) => e.kind === "dbwrite" && e.text.includes(text))

    /** tmp written and fsynced -> rename -> folder fsynced; returns the index of the folder's fsync. */
    const committed = (target: string) => {
      const rename = renameTo(target)
      const ev = events[rename] as { from: string }
      const fileSync = events.findIndex((e, j) => j < rename && e.kind === "fsync" && e.path === ev.from)
      assert.isAtLeast(fileSync, 0, `${ev.from} was not fsynced before it was renamed to ${target}`)
      return fsyncOf(NodePath.dirname(target), rename + 1)
    }

    // the release: each file into staging, then staging renamed into releases/<id>
    const releaseId = NodeFs.readFileSync(NodePath.join(root, "production", "CURRENT"), "utf8").trim()
    assert.strictEqual(releaseId, result.releaseId)
    const staging = NodePath.join(root, "production", `.staging-${releaseId}`)
    const release = NodePath.join(root, "production", "releases", releaseId)
    const folderRename = renameTo(release)
    assert.strictEqual((events[folderRename] as { from: string }).from, staging)
    for (const name of ["trainedmodel.json", "latestscore.txt", "ingestedfiles.txt", "manifest.json"]) {
      const stagingSynced = committed(NodePath.join(staging, name))
      assert.isBelow(stagingSynced, folderRename, `${name}: the staging folder is fsynced before it is renamed`)
    }
    const releasesSynced = fsyncOf(NodePath.join(root, "production", "releases"), folderRename + 1)
    const releaseNamed = firstDbWriteNaming(releaseId)
    assert.isBelow(releasesSynced, releaseNamed, "the releases folder is fsynced before the database names the release")

    // CURRENT, the mirror: fsynced, renamed, its folder fsynced
    const current = committed(NodePath.join(root, "production", "CURRENT"))
    assert.isAbove(current, releaseNamed)

    // the Parquet snapshot (here also the batch) that DuckDB wrote
    const snapshot = NodePath.join(root, result.ingestion.snapshot.parts[0].path)
    const snapshotSynced = committed(snapshot)
    assert.isBelow(snapshotSynced, firstDbWriteNaming(result.ingestion.snapshot.hash), "the snapshot is durable before the database names it")
  })
})
