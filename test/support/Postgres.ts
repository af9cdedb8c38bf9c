/**
 * A throwaway PostgreSQL server for a test file: initdb and pg_ctl in a temporary folder, on a
 * free port, as the `postgres` user when the tests run as root; stopped and removed after.
 * PostgreSQL itself comes from Debian's package (`npm test` installs it when missing).
 */
import { execFileSync, spawnSync } from "node:child_process"
import * as NodeFs from "node:fs"
import * as NodeNet from "node:net"
import * as NodeOs from "node:os"
import * as NodePath from "node:path"

export interface TempPostgres {
  readonly url: (database: string) => string
  readonly createDatabase: (name: string) => void
  readonly stop: () => void
  /** Stop the server and keep its data; `start` brings it back on the same port. */
  readonly halt: () => void
  readonly start: () => void
}

export const postgresBin = (): string => {
  const root = "/usr/lib/postgresql"
  const versions = NodeFs.existsSync(root) ? NodeFs.readdirSync(root).filter((v) => NodeFs.existsSync(NodePath.join(root, v, "bin", "initdb"))) : []
  if (versions.length === 0) throw new Error("PostgreSQL is not installed (no /usr/lib/postgresql/*/bin/initdb): npm test installs Debian's postgresql package when run as root")
  return NodePath.join(root, versions.sort((a, b) => Number(b) - Number(a))[0]!, "bin")
}

/** A port nothing listens on (now). */
export const freePort = () =>
  new Promise<number>((resolve, reject) => {
    const s = NodeNet.createServer()
    s.once("error", reject)
    s.listen(0, "127.0.0.1", () => {
      const port = (s.address() as NodeNet.AddressInfo).port
      s.close(() => resolve(port))
    })
  })

export const startPostgres = async (): Promise<TempPostgres> => {
  const bin = postgresBin()
  const asRoot = process.getuid?.() === 0
  const dir = NodeFs.mkdtempSync(NodePath.join(NodeOs.tmpdir(), "drs-pg-"))
  const data = NodePath.join(dir, "data")
  NodeFs.mkdirSync(data)
  if (asRoot) {
    NodeFs.chmodSync(dir, 0o755)
    execFileSync("chown", ["-R", "postgres:postgres", dir])
  }
  const run = (tool: string, args: ReadonlyArray<string>) => {
    const command = asRoot ? "runuser" : NodePath.join(bin, tool)
    const argv = asRoot ? ["-u", "postgres", "--", NodePath.join(bin, tool), ...args] : [...args]
    const r = spawnSync(command, argv, { encoding: "utf8", cwd: dir })
    if (r.status !== 0) throw new Error(`${tool} ${args.join(" ")} failed: ${r.stderr || r.stdout}`)
    return r.stdout
  }
  const port = await freePort()
  run("initdb", ["-D", data, "-A", "trust", "-U", "postgres", "--no-sync"])
  run("pg_ctl", ["-D", data, "-o", `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off`, "-l", NodePath.join(dir, "log"), "-w", "start"])
  return {
    url: (database) => `postgres://postgres@127.0.0.1:${port}/${database}`,
    createDatabase: (name) => {
      run("psql", ["-h", "127.0.0.1", "-p", String(port), "-U", "postgres", "-d", "postgres", "-c", `CREATE DATABASE "${name}"`])
    },
    halt: () => {
      run("pg_ctl", ["-D", data, "-m", "fast", "-w", "stop"])
    },
    start: () => {
      run("pg_ctl", ["-D", data, "-o", `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off`, "-l", NodePath.join(dir, "log"), "-w", "start"])
    },
    stop: () => {
      spawnSync(asRoot ? "runuser" : NodePath.join(bin, "pg_ctl"), asRoot ? ["-u", "postgres", "--", NodePath.join(bin, "pg_ctl"), "-D", data, "-m", "immediate", "stop"] : ["-D", data, "-m", "immediate", "stop"])
      NodeFs.rmSync(dir, { recursive: true, force: true })
    }
  }
}
