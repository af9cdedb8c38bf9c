/**
 * Running the bundled command line (dist/cli.cjs) with V8's code cache. Node 20 has no
 * compile cache for modules (`module.enableCompileCache` arrived in Node 22), and compiling
 * the multi-megabyte bundle took about a fifth of a second on every command. The bundle is
 * CommonJS so that it can be compiled as a `vm.Script` with `cachedData`; the cache sits
 * next to it, stamped with the bundle's size and modification time (V8 itself checks only
 * its own version, flags and the source length). A missing, stale or rejected cache is
 * rewritten at exit (best effort, atomically); the command runs the same either way.
 * V8 rejects a cache made under other flags, so a process started with node flags of its
 * own (the `serve --workers` processes, with their young generation) keeps its own cache,
 * named after them: the two kinds of process do not rewrite each other's.
 */
import * as NodeFs from "node:fs"
import { createRequire } from "node:module"
import * as NodePath from "node:path"
import * as NodeVm from "node:vm"

const HEADER = 16

const stampOf = (stat: NodeFs.Stats) => {
  const b = Buffer.alloc(HEADER)
  b.writeDoubleLE(stat.size, 0)
  b.writeDoubleLE(stat.mtimeMs, 8)
  return b
}

/** The cache of `bundle` for a process started with `execArgv` (node's own flags). */
export const cachePathOf = (bundle: string, execArgv: ReadonlyArray<string>) => {
  if (execArgv.length === 0) return `${bundle}.v8cache`
  // FNV-1a of the flags (node:crypto would load for every command)
  let h = 0x811c9dc5
  for (const c of execArgv.join("\0")) h = Math.imul(h ^ c.charCodeAt(0), 0x01000193) >>> 0
  return `${bundle}.${h.toString(16).padStart(8, "0")}.v8cache`
}

/** Run the CommonJS bundle at `bundle`; false when there is none (an unbundled build). */
export const runBundle = (bundle: string): boolean => {
  let source: string
  let stat: NodeFs.Stats
  try {
    stat = NodeFs.statSync(bundle)
    source = NodeFs.readFileSync(bundle, "utf8")
  } catch {
    return false
  }
  const cachePath = cachePathOf(bundle, process.execArgv)
  const stamp = stampOf(stat)
  let cachedData: Buffer | undefined
  try {
    const bytes = NodeFs.readFileSync(cachePath)
    if (bytes.length > HEADER && bytes.subarray(0, HEADER).equals(stamp)) cachedData = bytes.subarray(HEADER)
  } catch {
    // no cache yet
  }
  const wrapper = "(function (exports, require, module, __filename, __dirname) { " + source + "\n})"
  const script = new NodeVm.Script(wrapper, {
    filename: bundle,
    ...(cachedData !== undefined ? { cachedData } : {}),
    importModuleDynamically: NodeVm.constants.USE_MAIN_CONTEXT_DEFAULT_LOADER
  })
  if (cachedData === undefined || script.cachedDataRejected === true) {
    // after the run, so that the functions it compiled are in the cache too
    process.once("exit", () => {
      const tmp = `${cachePath}.${process.pid}.tmp`
      try {
        NodeFs.writeFileSync(tmp, Buffer.concat([stamp, script.createCachedData()]))
        NodeFs.renameSync(tmp, cachePath)
      } catch {
        try {
          NodeFs.rmSync(tmp, { force: true })
        } catch {
          // nothing to clean up
        }
      }
    })
  }
  const module = { exports: {} }
  const run = script.runInThisContext() as (...args: Array<unknown>) => void
  run.call(module.exports, module.exports, createRequire(bundle), module, bundle, NodePath.dirname(bundle))
  return true
}
