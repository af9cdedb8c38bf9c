/**
 * FileStore: every byte the system reads or writes goes through here.
 * Live layer: the real filesystem. Memory layer: a Map, for tests.
 */
import * as FileSystem from "@effect/platform/FileSystem"
import type { PlatformError } from "@effect/platform/Error"
import { Chunk, Context, Effect, Layer, Option, Ref, Stream } from "effect"
import * as NodeFileSystem from "@effect/platform-node/NodeFileSystem"
import * as NodeCrypto from "node:crypto"
import * as NodeFs from "node:fs"
import * as NodeOs from "node:os"
import * as NodePath from "node:path"
import { FileStoreError } from "../domain/Errors.js"

export interface DirEntry {
  readonly name: string
  readonly isDirectory: boolean
}

export interface FileStoreShape {
  readonly readFile: (path: string) => Effect.Effect<Uint8Array, FileStoreError>
  readonly readText: (path: string) => Effect.Effect<string, FileStoreError>
  readonly stream: (path: string) => Stream.Stream<Uint8Array, FileStoreError>
  /** The sha256 of a file's content, hex (read through one reused buffer: no garbage per chunk). */
  readonly sha256: (path: string) => Effect.Effect<string, FileStoreError>
  /**
   * Write to a temporary sibling, fsync it, rename it over the target, fsync the folder:
   * readers never see a partial file, and after a power loss the file is whole or absent.
   */
  readonly writeAtomic: (path: string, data: string | Uint8Array) => Effect.Effect<void, FileStoreError>
  /** Create the file only if it does not exist yet; false when it already existed. */
  readonly createExclusive: (path: string, data: string) => Effect.Effect<boolean, FileStoreError>
  /** Entries of a directory sorted by name; empty when the directory does not exist. */
  readonly list: (dir: string) => Effect.Effect<ReadonlyArray<DirEntry>, FileStoreError>
  readonly exists: (path: string) => Effect.Effect<boolean, FileStoreError>
  readonly isDirectory: (path: string) => Effect.Effect<boolean, FileStoreError>
  readonly remove: (path: string) => Effect.Effect<void, FileStoreError>
  /** Rename, then fsync the target's folder: the new name survives a power loss. */
  readonly rename: (from: string, to: string) => Effect.Effect<void, FileStoreError>
  /** fsync a file (or a folder): its content is on disk before anything names it. */
  readonly sync: (path: string) => Effect.Effect<void, FileStoreError>
  readonly copyFile: (from: string, to: string) => Effect.Effect<void, FileStoreError>
  readonly makeDirectory: (path: string) => Effect.Effect<void, FileStoreError>
  readonly size: (path: string) => Effect.Effect<number, FileStoreError>
  /** The path with every symbolic link resolved (the file must exist). */
  readonly realPath: (path: string) => Effect.Effect<string, FileStoreError>
  /** The operating-system path of a file, for engines that open files themselves (DuckDB). */
  readonly localPath: (path: string) => string
}

const tempName = (path: string) =>
  NodePath.join(NodePath.dirname(path), `.drs-tmp-${process.pid}-${Date.now()}-${Math.random().toString(36).slice(2)}-${NodePath.basename(path)}`)

const toError = (path: string, operation: string) => (e: PlatformError) =>
  new FileStoreError({ path, operation, message: e.message })

/** fsync a file or a folder by its path (Linux lets a folder be opened read-only and fsynced). */
const fsyncPath = (path: string) =>
  Effect.tryPromise({
    try: async () => {
      const handle = await NodeFs.promises.open(path, "r")
      try {
        await handle.sync()
      } finally {
        await handle.close()
      }
    },
    catch: (e) => new FileStoreError({ path, operation: "fsync", message: (e as Error).message })
  })

/** Write a new file and fsync it before it is closed. */
const writeSynced = (path: string, bytes: Uint8Array) =>
  Effect.tryPromise({
    try: async () => {
      const handle = await NodeFs.promises.open(path, "w")
      try {
        await handle.writeFile(bytes)
        await handle.sync()
      } finally {
        await handle.close()
      }
    },
    catch: (e) => new FileStoreError({ path, operation: "write", message: (e as Error).message })
  })

const makeLive = Effect.gen(function*() {
  const fs = yield* FileSystem.FileSystem
  const ensureParent = (path: string) => fs.makeDirectory(NodePath.dirname(path), { recursive: true })
  const store: FileStoreShape = {
    readFile: (path) => fs.readFile(path).pipe(Effect.mapError(toError(path, "read"))),
    readText: (path) => fs.readFileString(path, "utf-8").pipe(Effect.mapError(toError(path, "read"))),
    stream: (path) => fs.stream(path, { chunkSize: FileSystem.KiB(256) }).pipe(Stream.mapError(toError(path, "read"))),
    sha256: (path) =>
      Effect.scoped(Effect.gen(function*() {
        const file = yield* fs.open(path, { flag: "r" })
        const hash = NodeCrypto.createHash("sha256")
        const buffer = new Uint8Array(1 << 20)
        for (;;) {
          const n = Number(yield* file.read(buffer))
          if (n === 0) break
          hash.update(buffer.subarray(0, n))
        }
        return hash.digest("hex")
      })).pipe(Effect.mapError(toError(path, "read"))),
    writeAtomic: (path, data) => {
      const tmp = tempName(path)
      const bytes = typeof data === "string" ? new TextEncoder().encode(data) : data
      return ensureParent(path).pipe(
        Effect.mapError(toError(path, "write")),
        // the commit order: write the temporary file, fsync it, rename it, fsync the folder
        Effect.zipRight(writeSynced(tmp, bytes)),
        Effect.zipRight(fs.rename(tmp, path).pipe(Effect.mapError(toError(path, "write")))),
        Effect.tapError(() => fs.remove(tmp).pipe(Effect.ignore)),
        Effect.zipRight(fsyncPath(NodePath.dirname(path)))
      )
    },
    createExclusive: (path, data) =>
      ensureParent(path).pipe(
        Effect.zipRight(fs.writeFileString(path, data, { flag: "wx" })),
        Effect.as(true),
        Effect.catchIf((e) => e._tag === "SystemError" && e.reason === "AlreadyExists", () => Effect.succeed(false)),
        Effect.mapError(toError(path, "create"))
      ),
    list: (dir) =>
      Effect.gen(function*() {
        if (!(yield* fs.exists(dir))) return []
        const names = (yield* fs.readDirectory(dir)).sort()
        return yield* Effect.forEach(names, (name) =>
          fs.stat(NodePath.join(dir, name)).pipe(
            Effect.map((info) => ({ name, isDirectory: info.type === "Directory" })),
            // an entry removed while listing is simply not listed
            Effect.catchIf((e) => e._tag === "SystemError" && e.reason === "NotFound", () => Effect.succeed(undefined))
          ))
          .pipe(Effect.map((es) => es.filter((e): e is DirEntry => e !== undefined)))
      }).pipe(Effect.mapError(toError(dir, "list"))),
    exists: (path) => fs.exists(path).pipe(Effect.mapError(toError(path, "stat"))),
    isDirectory: (path) =>
      fs.stat(path).pipe(
        Effect.map((s) => s.type === "Directory"),
        Effect.catchIf((e) => e._tag === "SystemError" && e.reason === "NotFound", () => Effect.succeed(false)),
        Effect.mapError(toError(path, "stat"))
      ),
    remove: (path) => fs.remove(path, { recursive: true, force: true }).pipe(Effect.mapError(toError(path, "remove"))),
    rename: (from, to) =>
      ensureParent(to).pipe(Effect.zipRight(fs.rename(from, to)), Effect.mapError(toError(from, "rename")), Effect.zipRight(fsyncPath(NodePath.dirname(to)))),
    sync: fsyncPath,
    copyFile: (from, to) => ensureParent(to).pipe(Effect.zipRight(fs.copyFile(from, to)), Effect.mapError(toError(from, "copy"))),
    makeDirectory: (path) => fs.makeDirectory(path, { recursive: true }).pipe(Effect.mapError(toError(path, "mkdir"))),
    size: (path) => fs.stat(path).pipe(Effect.map((s) => Number(s.size)), Effect.mapError(toError(path, "stat"))),
    realPath: (path) => fs.realPath(path).pipe(Effect.mapError(toError(path, "stat"))),
    localPath: (path) => NodePath.resolve(path)
  }
  return store
})

/** A store whose paths are translated by `map` before they reach `inner` (the temp-folder layer). */
const mapped = (inner: FileStoreShape, map: (p: string) => string, unmap: (p: string) => string): FileStoreShape => ({
  readFile: (p) => inner.readFile(map(p)),
  readText: (p) => inner.readText(map(p)),
  stream: (p) => inner.stream(map(p)),
  sha256: (p) => inner.sha256(map(p)),
  writeAtomic: (p, d) => inner.writeAtomic(map(p), d),
  createExclusive: (p, d) => inner.createExclusive(map(p), d),
  list: (p) => inner.list(map(p)),
  exists: (p) => inner.exists(map(p)),
  isDirectory: (p) => inner.isDirectory(map(p)),
  remove: (p) => inner.remove(map(p)),
  rename: (a, b) => inner.rename(map(a), map(b)),
  sync: (p) => inner.sync(map(p)),
  copyFile: (a, b) => inner.copyFile(map(a), map(b)),
  makeDirectory: (p) => inner.makeDirectory(map(p)),
  size: (p) => inner.size(map(p)),
  realPath: (p) => inner.realPath(map(p)).pipe(Effect.map(unmap)),
  localPath: (p) => inner.localPath(map(p))
})

/** In-memory filesystem: absolute paths to bytes, plus the set of directories. */
export interface MemoryState {
  readonly files: Map<string, Uint8Array>
  readonly dirs: Set<string>
}

const makeMemory = (initial: Record<string, string | Uint8Array> = {}) =>
  Effect.gen(function*() {
    const state = yield* Ref.make<MemoryState>({ files: new Map(), dirs: new Set(["/"]) })
    const abs = (p: string) => NodePath.resolve(p)
    const notFound = (path: string, operation: string) =>
      new FileStoreError({ path, operation, message: `ENOENT: no such file or directory, ${operation} '${path}'` })
    const addDirs = (s: MemoryState, dir: string) => {
      let d = dir
      while (!s.dirs.has(d)) {
        s.dirs.add(d)
        d = NodePath.dirname(d)
      }
    }
    const put = (s: MemoryState, path: string, data: string | Uint8Array) => {
      addDirs(s, NodePath.dirname(path))
      s.files.set(path, typeof data === "string" ? new TextEncoder().encode(data) : Uint8Array.from(data))
    }
    const s0 = yield* Ref.get(state)
    for (const [p, d] of Object.entries(initial)) put(s0, abs(p), d)
    const get = (path: string, operation: string) =>
      Ref.get(state).pipe(Effect.flatMap((s) =>
        Option.match(Option.fromNullable(s.files.get(abs(path))), {
          onNone: () => Effect.fail(notFound(path, operation)),
          onSome: Effect.succeed
        })
      ))
    const store: FileStoreShape = {
      readFile: (path) => get(path, "read"),
      readText: (path) => get(path, "read").pipe(Effect.map((b) => new TextDecoder().decode(b))),
      stream: (path) =>
        Stream.unwrap(get(path, "read").pipe(Effect.map((bytes) => {
          const chunks: Array<Uint8Array> = []
          // small chunks exercise the same boundary handling as real reads
          for (let i = 0; i < bytes.length; i += 4096) chunks.push(bytes.subarray(i, i + 4096))
          return Stream.fromChunk(Chunk.unsafeFromArray(chunks))
        }))),
      sha256: (path) => get(path, "read").pipe(Effect.map((bytes) => NodeCrypto.createHash("sha256").update(bytes).digest("hex"))),
      writeAtomic: (path, data) => Ref.get(state).pipe(Effect.map((s) => put(s, abs(path), data))),
      createExclusive: (path, data) =>
        Ref.get(state).pipe(Effect.map((s) => {
          if (s.files.has(abs(path))) return false
          put(s, abs(path), data)
          return true
        })),
      list: (dir) =>
        Ref.get(state).pipe(Effect.map((s) => {
          const d = abs(dir)
          const out: Array<DirEntry> = []
          for (const f of s.files.keys()) if (NodePath.dirname(f) === d) out.push({ name: NodePath.basename(f), isDirectory: false })
          for (const x of s.dirs) if (x !== d && NodePath.dirname(x) === d) out.push({ name: NodePath.basename(x), isDirectory: true })
          return out.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
        })),
      exists: (path) => Ref.get(state).pipe(Effect.map((s) => s.files.has(abs(path)) || s.dirs.has(abs(path)))),
      isDirectory: (path) => Ref.get(state).pipe(Effect.map((s) => s.dirs.has(abs(path)))),
      remove: (path) =>
        Ref.get(state).pipe(Effect.map((s) => {
          const p = abs(path)
          const under = (x: string) => x === p || x.startsWith(p + NodePath.sep)
          for (const f of [...s.files.keys()]) if (under(f)) s.files.delete(f)
          for (const d of [...s.dirs]) if (under(d) && d !== "/") s.dirs.delete(d)
        })),
      rename: (from, to) =>
        Ref.get(state).pipe(Effect.flatMap((s) => {
          const a = abs(from)
          const b = abs(to)
          if (s.files.has(a)) {
            put(s, b, s.files.get(a)!)
            s.files.delete(a)
            return Effect.void
          }
          if (s.dirs.has(a)) {
            const moveKey = (x: string) => b + x.slice(a.length)
            for (const f of [...s.files.keys()]) {
              if (f.startsWith(a + NodePath.sep)) {
                put(s, moveKey(f), s.files.get(f)!)
                s.files.delete(f)
              }
            }
            for (const d of [...s.dirs]) {
              if (d === a || d.startsWith(a + NodePath.sep)) {
                s.dirs.delete(d)
                addDirs(s, moveKey(d))
              }
            }
            return Effect.void
          }
          return Effect.fail(notFound(from, "rename"))
        })),
      // nothing is on disk to sync
      sync: () => Effect.void,
      copyFile: (from, to) =>
        get(from, "copy").pipe(Effect.zip(Ref.get(state)), Effect.map(([bytes, s]) => put(s, abs(to), bytes))),
      makeDirectory: (path) => Ref.get(state).pipe(Effect.map((s) => addDirs(s, abs(path)))),
      size: (path) => get(path, "stat").pipe(Effect.map((b) => b.length)),
      realPath: (path) => Effect.succeed(abs(path)),
      // nothing is on disk: an engine that opens this path finds no file
      localPath: (path) => NodePath.join("/nonexistent-memory-store", abs(path))
    }
    return store
  })

export class FileStore extends Context.Tag("drs/FileStore")<FileStore, FileStoreShape>() {
  /** The real filesystem (needs the platform FileSystem). */
  static readonly Default: Layer.Layer<FileStore, never, FileSystem.FileSystem> = Layer.effect(FileStore, makeLive)
  /** A fresh in-memory filesystem, optionally seeded with files. */
  static readonly layerMemory = (initial: Record<string, string | Uint8Array> = {}): Layer.Layer<FileStore> =>
    Layer.effect(FileStore, makeMemory(initial))
  /**
   * The real filesystem under a fresh temporary folder that stands for `/t`: paths under
   * `/t/` live there, seeded with `initial`; the folder is removed when the layer is released.
   */
  static readonly layerTemp = (initial: Record<string, string | Uint8Array> = {}): Layer.Layer<FileStore> =>
    Layer.scoped(FileStore, Effect.gen(function*() {
      const root = yield* Effect.acquireRelease(
        Effect.sync(() => NodeFs.mkdtempSync(NodePath.join(NodeOs.tmpdir(), "drs-test-"))),
        (dir) => Effect.sync(() => NodeFs.rmSync(dir, { recursive: true, force: true }))
      )
      const real = NodeFs.realpathSync(root)
      const map = (p: string) => {
        const a = NodePath.resolve(p)
        return a === "/t" || a.startsWith("/t/") ? NodePath.join(root, a.slice(2)) : a
      }
      const unmap = (p: string) => (p === real || p.startsWith(real + NodePath.sep) ? "/t" + p.slice(real.length) : p)
      const store = mapped(yield* makeLive, map, unmap)
      for (const [p, d] of Object.entries(initial)) yield* store.writeAtomic(p, d).pipe(Effect.orDie)
      return store
    }).pipe(Effect.provide(NodeFileSystem.layer)))
}
