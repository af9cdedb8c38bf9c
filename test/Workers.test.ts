/**
 * `serve --workers 2`: two server processes share one port on 127.0.0.1 and both take its
 * connections, start with their young generation (and their own code cache), and SIGTERM stops them all.
 */
import { afterAll, assert, beforeAll, describe, it } from "@effect/vitest"
import { spawn, spawnSync } from "node:child_process"
import * as NodeFs from "node:fs"
import * as NodeHttp from "node:http"
import * as NodePath from "node:path"
import { cachePathOf } from "../src/cli/CodeCache.js"
import { ALLOCATOR_ENV, workerEnv, workerExecArgv, YOUNG_GENERATION_MB } from "../src/cli/Workers.js"
import { MAIN, sampleProject } from "./support/Project.js"

let dir = ""

beforeAll(() => {
  dir = sampleProject("workers")
  const r = spawnSync(process.execPath, [MAIN, "fullprocess", "--no-apicalls"], { cwd: dir, encoding: "utf8", timeout: 120_000 })
  if (r.status !== 0) throw new Error(r.stderr)
})
afterAll(() => {
  if (dir) NodeFs.rmSync(dir, { recursive: true, force: true })
})

/** GET on a fresh connection each time, so the port's balancing sees every request. */
const health = (port: number) =>
  new Promise<{ instance: string; releaseId: string }>((resolve, reject) => {
    const req = NodeHttp.get({ host: "127.0.0.1", port, path: "/health", agent: false, headers: { connection: "close" } }, (res) => {
      let body = ""
      res.on("data", (c: Buffer) => (body += c.toString()))
      res.on("end", () => resolve(JSON.parse(body)))
    })
    req.on("error", reject)
  })

describe("serve --workers", () => {
  it("gives the workers the allocators' settings, a user's own setting of the same variable after them", () => {
    assert.deepStrictEqual(workerEnv({}), { ...ALLOCATOR_ENV })
    assert.deepStrictEqual(workerEnv({ GLIBC_TUNABLES: "glibc.malloc.arena_max=2", DUCKDB_JE_MALLOC_CONF: "narenas:2", HOME: "/root" }), {
      GLIBC_TUNABLES: `${ALLOCATOR_ENV.GLIBC_TUNABLES}:glibc.malloc.arena_max=2`,
      DUCKDB_JE_MALLOC_CONF: `${ALLOCATOR_ENV.DUCKDB_JE_MALLOC_CONF},narenas:2`
    })
  })

  it("runs two processes that both answer on one port, and stops them all on SIGTERM", async () => {
    // the workers start with node flags of their own: they keep their own code cache
    const plainCache = NodePath.join(NodePath.dirname(MAIN), "cli.cjs.v8cache")
    const plainBefore = NodeFs.existsSync(plainCache) ? NodeFs.statSync(plainCache).mtimeMs : null
    const workersCache = cachePathOf(NodePath.join(NodePath.dirname(MAIN), "cli.cjs"), workerExecArgv([]))
    NodeFs.rmSync(workersCache, { force: true })
    // a setting of the user's own comes after the workers' allocator settings (and wins)
    const env: Record<string, string | undefined> = { ...process.env, DUCKDB_JE_MALLOC_CONF: "narenas:2" }
    delete env.GLIBC_TUNABLES
    const server = spawn(process.execPath, [MAIN, "serve", "--port", "0", "--workers", "2"], { cwd: dir, env, stdio: ["ignore", "pipe", "pipe"] })
    let log = ""
    server.stderr!.on("data", (d: Buffer) => (log += d.toString()))
    try {
      // the port is opened for the workers (with --port 0 on a port of the system's choosing),
      // the address logged once; each worker is announced once it serves
      const port = await new Promise<number>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`workers did not start: ${log}`)), 60_000)
        const poll = setInterval(() => {
          const ports = [...log.matchAll(/Listening on http:\/\/[\d.]+:(\d+)/g)].map((m) => Number(m[1]))
          const serving = [...log.matchAll(/worker \d+ serves/g)].length
          if (ports.length >= 1 && serving >= 2) {
            clearInterval(poll)
            clearTimeout(timer)
            assert.strictEqual(ports.length, 1, log)
            resolve(ports[0]!)
          }
        }, 50)
      })
      // both workers accept from the one port: fresh connections, one at a time, reach both
      const answers: Array<string> = []
      for (let i = 0; i < 200 && new Set(answers).size < 2; i++) answers.push((await health(port)).instance)
      assert.strictEqual(new Set(answers).size, 2, answers.join(" "))
      // the two answering processes are the primary's children (health names no PID)
      const children = () =>
        NodeFs.readdirSync("/proc").filter((d) => /^\d+$/.test(d)).map(Number).filter((pid) => {
          try {
            return Number(NodeFs.readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ")[1]) === server.pid
          } catch {
            return false
          }
        })
      const pids = new Set(children())
      assert.strictEqual(pids.size, 2)
      assert.isFalse(pids.has(server.pid!))
      // each with its young generation
      for (const pid of pids) {
        const argv = NodeFs.readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0")
        assert.includeMembers(argv, [`--min-semi-space-size=${YOUNG_GENERATION_MB}`, `--max-semi-space-size=${YOUNG_GENERATION_MB}`])
        // and its allocators' settings (glibc 2.36 rewrites GLIBC_TUNABLES in place as it reads
        // it: the text keeps the first setting, ours, though every one applies)
        const environ = NodeFs.readFileSync(`/proc/${pid}/environ`, "utf8").split("\0")
        assert.include(environ, `DUCKDB_JE_MALLOC_CONF=${ALLOCATOR_ENV.DUCKDB_JE_MALLOC_CONF},narenas:2`)
        assert.isTrue(environ.some((e) => e.startsWith(`GLIBC_TUNABLES=${ALLOCATOR_ENV.GLIBC_TUNABLES.split(":")[0]}`)), environ.filter((e) => e.startsWith("GLIBC")).join(" "))
      }
      const exited = new Promise<number | null>((resolve) => server.on("exit", (code) => resolve(code)))
      server.kill("SIGTERM")
      const code = await Promise.race([exited, new Promise<string>((r) => setTimeout(() => r("timeout"), 15_000))])
      assert.strictEqual(code, 0)
      const isAlive = (pid: number) => {
        try {
          process.kill(pid, 0)
          return !/^[ZX]/.test(NodeFs.readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1] ?? "")
        } catch {
          return false
        }
      }
      // the workers have exited or are being reaped: give the kernel a moment
      let alive = [...pids].filter(isAlive)
      for (let i = 0; i < 20 && alive.length > 0; i++) {
        await new Promise((r) => setTimeout(r, 100))
        alive = alive.filter(isAlive)
      }
      assert.deepStrictEqual(alive, [], spawnSync("ps", ["-o", "pid,ppid,stat,cmd", "-p", [...pids].join(",")], { encoding: "utf8" }).stdout)
      // the workers wrote their own code cache and left the plain one (every other command's) alone
      if (NodeFs.existsSync(plainCache)) {
        assert.isTrue(NodeFs.existsSync(workersCache), "the workers' code cache")
        if (plainBefore !== null) assert.strictEqual(NodeFs.statSync(plainCache).mtimeMs, plainBefore, "the workers rewrote the plain code cache")
      }
    } finally {
      server.kill("SIGKILL")
    }
  })
})
