/**
 * Cluster workers share the input folder and the data snapshots: whichever worker runs a step,
 * it must see the files the others wrote. Checked when a worker starts, with a clear error.
 */
import { Effect } from "effect"
import * as NodeOs from "node:os"
import * as NodePath from "node:path"
import { SharedStorageError } from "../domain/Errors.js"
import { AppConfig } from "../services/AppConfig.js"
import { FileStore } from "../services/FileStore.js"
import { Tracking } from "../services/Tracking.js"

const advice = "every worker must see input_folder_path and output_folder_path on storage they share (an NFS or other shared mount, at the same path); see docs/scale-out.md"

export const checkSharedStorage = Effect.gen(function*() {
  const config = yield* AppConfig
  const store = yield* FileStore
  const tracking = yield* Tracking
  const fail = (what: string) => new SharedStorageError({ message: `this worker (${NodeOs.hostname()}) ${what}: ${advice}` })
  const input = config.input_folder_path
  if (!(yield* store.exists(input).pipe(Effect.orElseSucceed(() => false)))) return yield* fail(`cannot see the input folder ${input}`)
  yield* store.list(input).pipe(Effect.mapError((e) => fail(`cannot read the input folder ${input} (${e.message})`)))
  const probe = NodePath.join(config.output_folder_path, `.drs-probe-${NodeOs.hostname()}-${process.pid}`)
  yield* store.makeDirectory(config.output_folder_path).pipe(
    Effect.zipRight(store.writeAtomic(probe, "probe\n")),
    Effect.zipRight(store.remove(probe)),
    Effect.mapError((e) => fail(`cannot write the output folder ${config.output_folder_path} (${e.message})`))
  )
  const snapshot = yield* tracking.currentSnapshot()
  for (const part of snapshot?.parts ?? []) {
    if (!(yield* store.exists(part.path).pipe(Effect.orElseSucceed(() => false)))) {
      return yield* fail(`cannot see the data snapshot file ${part.path} that the tracking database names`)
    }
  }
})
