/**
 * Scale-out, end to end: the built CLI's `worker` and `serve` as real processes on one
 * throwaway PostgreSQL server. Two workers run the schedule (exactly one run per tick), a
 * worker killed with -9 mid-run has its run finished by the other without redoing completed
 * activities, and two API servers serve the release the database names, rollback included.
 */
import { afterAll, assert, beforeAll, describe, it } from "@effect/vitest"
import { type ChildProcess, spawn, spawnSync } from "node:child_process"
import * as NodeFs from "node:fs"
import * as NodePath from "node:path"
import { freePort, postgresBin, startPostgres, type TempPostgres } from "./support/Postgres.js"
import { MAIN, sampleProject } from "./support/Project.js"

let pg: TempPostgres | undefined
const processes: Array<ChildProcess> = []
const dirs: Array<string> = []

beforeAll(async () => {
  pg = await startPostgres()
}, 60_000)

afterAll(() => {
  for (const p of processes) if (p.exitCode === null && p.signalCode === null) p.kill("SIGKILL")
  pg?.stop()
  for (const d of dirs) NodeFs.rmSync(d, { recursive: true, force: true })
})

/** A project on the shared sample data whose tracking database is a fresh PostgreSQL database. */
const project = (name: string) => {
  pg!.createDatabase(name)
  const dir = sampleProject(name)
  dirs.push(dir)
  const config = JSON.parse(NodeFs.readFileSync(NodePath.join(dir, "config.json"), "utf8"))
  Object.assign(config, {
    database_url: pg!.url(name), schedule: "*/2 * * * * *", worker_failover_seconds: 6, worker_host: "127.0.0.1", api_token: "secret"
  })
  NodeFs.writeFileSync(NodePath.join(dir, "config.json"), JSON.stringify(config, null, 2))
  return { dir, database: name }
}

/** One row per line, columns separated by |, from the project's database. */
const query = (database: string, sql: string): Array<Array<string>> => {
  const url = new URL(pg!.url(database))
  const r = spawnSync(NodePath.join(postgresBin(), "psql"), ["-h", url.hostname, "-p", url.port, "-U", "postgres", "-d", database, "-At", "-c", sql], { encoding: "utf8" })
  if (r.status !== 0) throw new Error(`psql: ${r.stderr}`)
  return r.stdout.split("\n").filter((l) => l.length > 0).map((l) => l.split("|"))
}

interface Started {
  readonly child: ChildProcess
  readonly log: () => string
}

const start = (dir: string, args: ReadonlyArray<string>, env: Record<string, string> = {}): Started => {
  let log = ""
  const child = spawn(process.execPath, [MAIN, ...args], { cwd: dir, env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"] })
  child.stdout!.on("data", (d: Buffer) => { log += d.toString() })
  child.stderr!.on("data", (d: Buffer) => { log += d.toString() })
  processes.push(child)
  return { child, log: () => log }
}

const worker = async (dir: string, env: Record<string, string> = {}) => {
  const port = await freePort()
  return { ...start(dir, ["worker", "--port", String(port)], env), name: `127.0.0.1:${port}` }
}

const serve = async (dir: string) => {
  const s = start(dir, ["serve", "--port", "0"])
  const base = await waitFor(() => /Listening on (http:\/\/[\d.]+:\d+)/.exec(s.log())?.[1], 30_000, () => `server did not start: ${s.log()}`)
  return { ...s, base }
}

const waitFor = async <A>(probe: () => A | undefined | null | false, ms: number, what: () => string): Promise<A> => {
  const until = Date.now() + ms
  for (;;) {
    // a table the workers have not created yet reads as "not yet"
    let a: A | undefined | null | false
    try {
      a = probe()
    } catch {
      a = undefined
    }
    if (a !== undefined && a !== null && a !== false) return a
    if (Date.now() > until) throw new Error(`timed out: ${what()}`)
    await new Promise((r) => setTimeout(r, 100))
  }
}

/** The release a server serves once it is `want`, or what it still serves after `ms`. */
const seenWithin = async (base: string, want: string, ms: number) => {
  const until = Date.now() + ms
  let seen = await liveOn(base)
  while (seen !== want && Date.now() < until) {
    await new Promise((r) => setTimeout(r, 100))
    seen = await liveOn(base)
  }
  return seen
}

const liveOn = async (base: string) => ((await (await fetch(`${base}/health`)).json()) as { releaseId: string | null }).releaseId

describe("scale-out on PostgreSQL: workers and API servers on one database", () => {
  it("two workers run each tick exactly once; two API servers serve the live release and see a rollback made through either", async () => {
    const { dir, database } = project("ticks")
    const a = await worker(dir)
    const b = await worker(dir)
    const logs = () => `worker a:\n${a.log()}\nworker b:\n${b.log()}`
    // the sample data is new on the first tick: one run deploys; later ticks find nothing new
    const finished = () => query(database, "SELECT tick, outcome, worker FROM scheduled_runs WHERE finished_at IS NOT NULL ORDER BY tick")
    await waitFor(() => finished().length >= 5, 60_000, logs)
    // both workers joined the cluster, through the same database
    assert.deepStrictEqual(query(database, "SELECT address FROM cluster_runners ORDER BY address").map((r) => r[0]).sort(), [a.name, b.name].sort())
    a.child.kill("SIGTERM")
    b.child.kill("SIGTERM")
    const ticks = finished()
    const all = query(database, "SELECT tick FROM scheduled_runs").map((r) => r[0])
    assert.strictEqual(new Set(all).size, all.length, `a tick ran twice: ${all.join(", ")}`)
    // one run deployed; every other tick found nothing new, or was skipped while that run was going
    assert.deepStrictEqual(ticks.map((t) => t[1]).filter((o) => o !== "skipped"), ["redeployed", ...ticks.filter((t) => t[1] !== "skipped").slice(1).map(() => "no-new-data")])
    for (const t of ticks) assert.include([a.name, b.name], t[2])
    assert.deepStrictEqual(query(database, "SELECT status FROM runs"), [["redeployed"]])

    // a second release, deployed from the command line on the same database
    const first = query(database, "SELECT release_id FROM releases")[0]![0]!
    const second = spawnSync(process.execPath, [MAIN, "run", "--steps", "training,scoring,deployment"], { cwd: dir, encoding: "utf8", timeout: 120_000 })
    assert.strictEqual(second.status, 0, second.stderr)
    const [secondId] = query(database, `SELECT release_id FROM releases WHERE release_id <> '${first}'`)[0]!

    const s1 = await serve(dir)
    const s2 = await serve(dir)
    assert.strictEqual(await liveOn(s1.base), secondId)
    assert.strictEqual(await liveOn(s2.base), secondId)
    // the dashboard of any server shows the schedule's ticks, with the worker that ran each
    const page = await (await fetch(`${s2.base}/`)).text()
    assert.include(page, `id="schedule-table"`)
    assert.include(page, ticks[0]![2]!)
    // and so does the status command, on any machine with the config
    const status = spawnSync(process.execPath, [MAIN, "status"], { cwd: dir, encoding: "utf8", timeout: 60_000 })
    assert.strictEqual(status.status, 0, status.stderr)
    assert.match(status.stdout, new RegExp(`^tick \\S+ on worker (${a.name}|${b.name}): (no-new-data|skipped|redeployed)`, "m"))
    // a rollback through server 1 is served by server 2 within 5 s, without a restart
    const activate = await fetch(`${s1.base}/releases/${first}/activate`, { method: "POST", headers: { authorization: "Bearer secret", "content-type": "application/json" }, body: JSON.stringify({ reason: "test" }) })
    assert.strictEqual(activate.status, 200, await activate.text())
    assert.strictEqual(await seenWithin(s2.base, first, 5000), first, "server 2 did not see the rollback within 5 s")
    assert.strictEqual(await liveOn(s1.base), first)
    const listed = (await (await fetch(`${s2.base}/releases`)).json()) as ReadonlyArray<{ releaseId: string; live: boolean }>
    assert.deepStrictEqual(listed.filter((r) => r.live).map((r) => r.releaseId), [first])
    // and the other way round: through server 2, seen by server 1
    const back = await fetch(`${s2.base}/releases/${secondId}/activate`, { method: "POST", headers: { authorization: "Bearer secret", "content-type": "application/json" }, body: JSON.stringify({ reason: "test" }) })
    assert.strictEqual(back.status, 200)
    assert.strictEqual(await seenWithin(s1.base, secondId!, 5000), secondId, "server 1 did not see the activation within 5 s")
    s1.child.kill("SIGTERM")
    s2.child.kill("SIGTERM")
  }, 180_000)

  it("a worker killed with -9 mid-run: the other finishes the run without redoing completed activities, and nothing is ingested twice", async () => {
    const { dir, database } = project("failover")
    // each activity pauses 1.5 s so the kill lands inside a run (fault injection, tests only)
    const env = { DRS_ACTIVITY_PAUSE_MS: "1500" }
    const a = await worker(dir, env)
    const b = await worker(dir, env)
    const logs = () => `worker a:\n${a.log()}\nworker b:\n${b.log()}`
    const activities = () => query(database, "SELECT execution_id, activity, worker, status FROM workflow_activities ORDER BY id")
    // once the drift check is done and training has started (it pauses first), kill the worker running the run
    const execution = await waitFor(() => activities().find((r) => r[1] === "train" && r[3] === "running")?.[0], 60_000, logs)
    const runner = activities().find((r) => r[0] === execution && r[1] === "train")![2]!
    const victim = runner === a.name ? a : b
    const survivor = victim === a ? b : a
    victim.child.kill("SIGKILL")
    const done = await waitFor(() => query(database, `SELECT outcome FROM scheduled_runs WHERE execution_id = '${execution}' AND finished_at IS NOT NULL`)[0]?.[0], 90_000, logs)
    survivor.child.kill("SIGTERM")
    assert.strictEqual(done, "redeployed")
    const rows = activities().filter((r) => r[0] === execution)
    const of = (name: string) => rows.filter((r) => r[1] === name)
    // what completed before the kill ran once and was not redone (on the killed worker, or on
    // the other if the run's shard moved to the killed one when it joined)
    for (const name of ["begin", "ingest", "monitor", "drift-check"]) {
      assert.deepStrictEqual(of(name).map((r) => r[3]), ["done"], `${name}: ${JSON.stringify(of(name))}`)
      assert.include([victim.name, survivor.name], of(name)[0]![2], name)
    }
    // the rest was finished by the survivor
    for (const name of ["train", "score", "gate", "deploy", "report", "finish"]) {
      assert.isTrue(of(name).some((r) => r[2] === survivor.name && r[3] === "done"), `${name}: ${JSON.stringify(of(name))}\n${logs()}`)
    }
    // an attempt the killed worker had started is left as it was: running, never finished
    assert.isTrue(rows.some((r) => r[2] === victim.name && r[3] === "running"), JSON.stringify(rows))
    // nothing ingested twice: one snapshot, each sample file once, one run, one release
    const files = NodeFs.readdirSync(NodePath.join(dir, "data", "sourcedata")).filter((f) => f.endsWith(".csv"))
    assert.strictEqual(Number(query(database, "SELECT count(*) FROM ingested_files")[0]![0]), files.length)
    assert.strictEqual(Number(query(database, "SELECT count(*) FROM snapshots")[0]![0]), 1)
    const state = () => JSON.stringify({ runs: query(database, "SELECT * FROM runs"), ticks: query(database, "SELECT * FROM scheduled_runs"), rows: activities() }, null, 1)
    assert.deepStrictEqual(query(database, "SELECT status FROM runs"), [["redeployed"]], state() + logs())
    assert.strictEqual(Number(query(database, "SELECT count(*) FROM releases")[0]![0]), 1)
    // the tick's record names the worker that started the run and the one that finished it
    const [tick, startedBy, finishedBy, runId] = query(database, `SELECT tick, worker, finished_by, run_id FROM scheduled_runs WHERE execution_id = '${execution}'`)[0]!
    assert.strictEqual(startedBy, of("begin")[0]![2], state())
    assert.strictEqual(finishedBy, survivor.name, state())
    assert.strictEqual(runId, query(database, "SELECT id FROM runs")[0]![0])
    // ticks that came while that run was going were recorded as skipped, with the run they found
    const skipped = query(database, `SELECT found_tick, found_run_id, finished_by FROM scheduled_runs WHERE outcome = 'skipped'`)
    assert.isAbove(skipped.length, 0, state() + logs())
    for (const [foundTick, foundRun, by] of skipped) {
      assert.strictEqual(foundTick, tick, state())
      assert.include(["", runId], foundRun, state())
      assert.include([victim.name, survivor.name], by)
    }
    assert.isTrue(skipped.some((r) => r[1] === runId), state())
  }, 180_000)

  it("a worker that cannot see the shared folders refuses to start, and says why", () => {
    const { dir } = project("unshared")
    NodeFs.rmSync(NodePath.join(dir, "data", "sourcedata"), { recursive: true })
    const r = spawnSync(process.execPath, [MAIN, "worker", "--port", "1"], { cwd: dir, encoding: "utf8", timeout: 60_000 })
    assert.strictEqual(r.status, 5, r.stdout + r.stderr)
    assert.match(r.stderr, /^SharedStorageError: this worker \(.*\) cannot see the input folder data\/sourcedata: every worker must see input_folder_path and output_folder_path on storage they share/m)
  }, 60_000)
})
