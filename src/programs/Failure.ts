/**
 * What went wrong, in one line, with the exit code: typed domain errors, and the operational
 * failures that reach the top as defects (a full disk, a permission, a missing folder, a port
 * in use). Anything else is a defect, printed with its stack.
 *
 * Exit codes: 1 unexpected failure (a defect), 2 bad usage or config, 3 bad or missing data,
 * 4 nothing trained or deployed yet, 5 storage (full disk, no permission, missing or
 * unreadable folder, or the tracking database unreachable), 6 port in use, 75 another run holds the lock.
 */
import { Cause, Option } from "effect"

export interface FailureReport {
  readonly tag: string
  readonly message: string
  readonly exitCode: number
  /** true for an unexpected failure: a bug, printed with its stack */
  readonly defect: boolean
}

export const exitCodeOf = (tag: string | undefined): number => {
  switch (tag) {
    case "ConfigError": return 2
    case "CsvError":
    case "NoDataError":
    case "SnapshotError": return 3
    case "ModelNotFound":
    case "ReleaseNotFound":
    case "NotDeployed":
    case "DeployError": return 4
    case "StorageError":
    case "SharedStorageError":
    case "DatabaseError": return 5
    case "PortInUse": return 6
    case "LockHeld": return 75
    default: return 1
  }
}

const SYSTEM = /\b(ENOSPC|EDQUOT|EACCES|EPERM|EROFS|ENOENT|ENOTDIR|EISDIR|EADDRINUSE|EMFILE)\b/

interface Found {
  readonly code: string
  readonly path: string | undefined
  readonly text: string
}

/** Look through an error and its causes for an operating-system error code. */
const findSystemError = (e: unknown, depth = 0): Found | undefined => {
  if (e === null || typeof e !== "object" || depth > 6) {
    if (typeof e === "string") {
      const m = SYSTEM.exec(e) ?? (/No space left on device/i.test(e) ? ["ENOSPC", "ENOSPC"] : /Permission denied/i.test(e) ? ["EACCES", "EACCES"] : null)
      return m ? { code: m[1]!, path: undefined, text: e } : undefined
    }
    return undefined
  }
  const o = e as Record<string, unknown>
  const text = typeof o.message === "string" ? o.message : ""
  const path = typeof o.path === "string" ? o.path : undefined
  if (typeof o.code === "string" && SYSTEM.test(o.code)) return { code: o.code, path, text }
  // SQLite's own codes for the same conditions
  if (typeof o.code === "string" && o.code.startsWith("SQLITE_")) {
    const code = o.code === "SQLITE_FULL" ? "ENOSPC" : o.code === "SQLITE_READONLY" || o.code === "SQLITE_CANTOPEN" ? "EACCES" : undefined
    if (code) return { code, path, text }
  }
  if (o._tag === "SystemError" && typeof o.reason === "string") {
    const code = { PermissionDenied: "EACCES", NotFound: "ENOENT", AlreadyExists: "EEXIST" }[o.reason]
    const inner = findSystemError(o.cause, depth + 1)
    if (inner) return { ...inner, path: inner.path ?? path }
    if (code) return { code, path: path ?? (typeof o.pathOrDescriptor === "string" ? o.pathOrDescriptor : undefined), text }
  }
  for (const key of ["cause", "error", "defect"]) {
    const inner = findSystemError(o[key], depth + 1)
    if (inner) return { ...inner, path: inner.path ?? path }
  }
  const fromText = findSystemError(text, depth + 1)
  return fromText ? { ...fromText, path: fromText.path ?? path } : undefined
}

const explain = (f: Found): { tag: string; message: string } => {
  const where = f.path ? ` ${f.path}` : ""
  switch (f.code) {
    case "ENOSPC":
    case "EDQUOT":
      return { tag: "StorageError", message: `no space left on the device writing${where || " a file"} (${f.code}): free some space, or point the config's folders at a larger disk` }
    case "EACCES":
    case "EPERM":
    case "EROFS":
      return { tag: "StorageError", message: `permission denied on${where || " a file or folder"} (${f.code}): make it writable for this user, or point the config elsewhere` }
    case "ENOENT":
    case "ENOTDIR":
    case "EISDIR":
      return { tag: "StorageError", message: `missing or unreadable path${where} (${f.code}): check the config's folders exist` }
    case "EADDRINUSE":
      return { tag: "PortInUse", message: `the port is already in use (EADDRINUSE): stop the other server or choose another with --port or api_port` }
    default:
      return { tag: "StorageError", message: `${f.text || f.code}` }
  }
}


/** The tracking database cannot be reached or migrated: what the driver said, in one line. */
const databaseFailure = (d: unknown): string | undefined => {
  if (d === null || typeof d !== "object") return undefined
  const o = d as { _tag?: unknown; message?: unknown; cause?: { message?: unknown } }
  if (o._tag !== "SqlError" && o._tag !== "MigrationError") return undefined
  // SQLite's disk and permission failures are storage errors, said as such above
  if (findSystemError(d) !== undefined) return undefined
  const inner = typeof o.cause?.message === "string" && o.cause.message.length > 0 ? ` (${o.cause.message.split("\n")[0]})` : ""
  return `the tracking database failed: ${String(o.message)}${inner}; check database_url and that the database server is up`
}

export const describeFailure = (cause: Cause.Cause<unknown>): FailureReport => {
  const failure = Option.getOrUndefined(Cause.failureOption(cause)) as { _tag?: string; message?: string } | undefined
  if (failure !== undefined) {
    const tag = failure._tag ?? "Error"
    // a server that cannot listen, or a file-store failure a caller let through: say what the system said
    if (tag === "ServeError" || tag === "FileStoreError" || tag === "DataError") {
      const found = findSystemError(failure)
      if (found) {
        const e = explain(found)
        return { ...e, message: `${e.tag}: ${e.message}`, exitCode: exitCodeOf(e.tag), defect: false }
      }
    }
    return { tag, message: `${tag}: ${failure.message ?? String(failure)}`, exitCode: exitCodeOf(tag), defect: false }
  }
  for (const d of Cause.defects(cause)) {
    const db = databaseFailure(d)
    if (db !== undefined) return { tag: "DatabaseError", message: `DatabaseError: ${db}`, exitCode: exitCodeOf("DatabaseError"), defect: false }
    const found = findSystemError(d)
    if (found) {
      const e = explain(found)
      return { ...e, message: `${e.tag}: ${e.message}`, exitCode: exitCodeOf(e.tag), defect: false }
    }
  }
  if (Cause.isInterruptedOnly(cause)) return { tag: "Interrupted", message: "Interrupted: the run was stopped", exitCode: 130, defect: false }
  return { tag: "Defect", message: Cause.pretty(cause), exitCode: 1, defect: true }
}
