/** Running a command and measuring its wall time and peak RSS (GNU time), and HTTP load (wrk). */
import { spawn, spawnSync } from "node:child_process"
import * as NodeFs from "node:fs"

export interface Run {
  readonly wallMs: number
  readonly peakMiB: number
  readonly stdout: string
  readonly stderr: string
}

/** Run `command` under GNU time; fails on a non-zero exit. */
export const measure = (command: string, args: ReadonlyArray<string>, options: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): Run => {
  const r = spawnSync("/usr/bin/time", ["-f", "DRS-TIME %e %M", command, ...args], {
    cwd: options.cwd, env: options.env ?? process.env, encoding: "utf8", maxBuffer: 64 << 20
  })
  const m = /DRS-TIME ([\d.]+) (\d+)/.exec(r.stderr)
  if (r.status !== 0 || !m) throw new Error(`${command} ${args.join(" ")} failed (${r.status}):\n${r.stdout.slice(-1000)}${r.stderr.slice(-2000)}`)
  return { wallMs: Number(m[1]) * 1000, peakMiB: Number(m[2]) / 1024, stdout: r.stdout, stderr: r.stderr }
}

/** Wall time of a command in ms (high resolution, no GNU time). */
export const wall = (command: string, args: ReadonlyArray<string>, cwd?: string): number => {
  const t0 = process.hrtime.bigint()
  const r = spawnSync(command, args, { cwd, stdio: "ignore" })
  if (r.status !== 0) throw new Error(`${command} ${args.join(" ")} failed (${r.status})`)
  return Number(process.hrtime.bigint() - t0) / 1e6
}

export const median = (xs: ReadonlyArray<number>) => {
  const s = [...xs].sort((a, b) => a - b)
  const m = s.length >> 1
  return s.length % 2 === 1 ? s[m]! : (s[m - 1]! + s[m]!) / 2
}

export interface Load {
  readonly requestsPerSecond: number
  readonly p99Ms: number
  readonly p90Ms: number
  readonly p50Ms: number
  readonly p999Ms: number
  readonly maxMs: number
  readonly errors: number
  /** the CPU wrk itself used, in % of one core: on a small machine it competes with the server */
  readonly wrkCpuPct: number
}

/** wrk's --latency prints p50 to p99 only: the script's done() prints the tail from the same histogram, in µs. */
const TAIL_HOOK = `done = function(summary, latency, requests)
  io.write(string.format("DRS-TAIL %d %d %d %d %d\\n", latency:percentile(50), latency:percentile(90), latency:percentile(99), latency:percentile(99.9), latency.max))
end
`

/** wrk against a URL on 127.0.0.1: `connections` at once for `seconds`, optionally POSTing a JSON body. */
export const load = (url: string, connections: number, seconds: number, body?: string): Load => {
  const args = ["-t", "2", "-c", String(connections), "-d", `${seconds}s`, "--timeout", "5s"]
  const script = (body === undefined ? "" : `wrk.method = "POST"\nwrk.headers["Content-Type"] = "application/json"\nwrk.body = ${JSON.stringify(body)}\n`) + TAIL_HOOK
  const path = `/tmp/drs-wrk-${process.pid}.lua`
  NodeFs.writeFileSync(path, script)
  args.push("-s", path)
  const r = spawnSync("/usr/bin/time", ["-f", "DRS-WRK-CPU %U %S", "wrk", ...args, url], { encoding: "utf8", timeout: (seconds + 30) * 1000 })
  if (r.status !== 0) throw new Error(`wrk failed: ${r.stderr}`)
  const cpu = /DRS-WRK-CPU ([\d.]+) ([\d.]+)/.exec(r.stderr)
  const rps = /Requests\/sec:\s+([\d.]+)/.exec(r.stdout)
  const tail = /DRS-TAIL (\d+) (\d+) (\d+) (\d+) (\d+)/.exec(r.stdout)
  const ms = (i: number) => (tail ? Number(tail[i]) / 1000 : Number.NaN)
  const errors = /Non-2xx or 3xx responses: (\d+)/.exec(r.stdout)
  const socket = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(r.stdout)
  return {
    requestsPerSecond: rps ? Number(rps[1]) : 0,
    p50Ms: ms(1),
    p90Ms: ms(2),
    p99Ms: ms(3),
    p999Ms: ms(4),
    maxMs: ms(5),
    wrkCpuPct: cpu ? ((Number(cpu[1]) + Number(cpu[2])) / seconds) * 100 : Number.NaN,
    errors: (errors ? Number(errors[1]) : 0) + (socket ? Number(socket[1]) + Number(socket[2]) + Number(socket[3]) + Number(socket[4]) : 0)
  }
}

/** Start a server process; resolves once `url` answers, with a stop function. */
export const startServer = async (command: string, args: ReadonlyArray<string>, url: string, options: { cwd?: string; env?: NodeJS.ProcessEnv } = {}) => {
  const child = spawn(command, args, { cwd: options.cwd, env: options.env ?? process.env, stdio: ["ignore", "ignore", "pipe"], detached: true })
  let log = ""
  child.stderr!.on("data", (d: Buffer) => (log = (log + d.toString()).slice(-4000)))
  const deadline = Date.now() + 60_000
  for (;;) {
    if (child.exitCode !== null) throw new Error(`${command} exited: ${log}`)
    const ok = await fetch(url, { signal: AbortSignal.timeout(1000) }).then((r) => r.ok, () => false)
    if (ok) break
    if (Date.now() > deadline) {
      process.kill(-child.pid!, "SIGKILL")
      throw new Error(`${command} did not answer ${url}: ${log}`)
    }
    await new Promise((r) => setTimeout(r, 200))
  }
  return {
    pid: child.pid!,
    stop: async () => {
      try {
        process.kill(-child.pid!, "SIGTERM")
      } catch {
        return
      }
      await new Promise((r) => setTimeout(r, 1500))
      try {
        process.kill(-child.pid!, "SIGKILL")
      } catch {
        // already gone
      }
    }
  }
}
