/** Finding data files and hashing them through the FileStore. */
import { Effect } from "effect"
import * as NodeCrypto from "node:crypto"
import * as NodePath from "node:path"
import type { FileStoreError } from "../domain/Errors.js"
import { NoDataError } from "../domain/Errors.js"
import { FileStore } from "../services/FileStore.js"

export const isCsvName = (name: string) => !name.startsWith(".") && name.toLowerCase().endsWith(".csv")

/** The CSV files of a folder, or the file itself when `path` names a file. */
export const csvFilesAt = (path: string): Effect.Effect<ReadonlyArray<string>, FileStoreError | NoDataError, FileStore> =>
  Effect.gen(function*() {
    const store = yield* FileStore
    if (yield* store.isDirectory(path)) {
      const entries = yield* store.list(path)
      return entries.filter((e) => !e.isDirectory && isCsvName(e.name)).map((e) => NodePath.join(path, e.name))
    }
    if (yield* store.exists(path)) return [path]
    return yield* new NoDataError({ message: `no such file or folder: ${path}` })
  })

export const sha256 = (data: string | Uint8Array) => NodeCrypto.createHash("sha256").update(data).digest("hex")

export const sha256OfFile = (path: string) => Effect.flatMap(FileStore, (store) => store.sha256(path))
