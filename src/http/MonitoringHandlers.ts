/** Handlers of GET /monitoring and POST /labels. */
import { HttpApiBuilder } from "@effect/platform"
import { Effect } from "effect"
import { Monitor } from "../services/Monitor.js"
import { makeRequireToken } from "./Auth.js"
import { type Api, BadRequest } from "./Api.js"

export const monitoringHandlers = (api: Api) => HttpApiBuilder.group(api, "monitoring", (handlers) =>
  Effect.gen(function*() {
    const monitor = yield* Monitor
    const requireToken = yield* makeRequireToken
    return handlers
      // the windows the last `monitor` run computed
      .handle("monitoring", () => monitor.latest())
      .handle("labels", ({ payload }) =>
        Effect.gen(function*() {
          yield* requireToken
          const csv = typeof payload === "string" ? payload : payload.csv
          return yield* monitor.addLabels(csv).pipe(
            Effect.catchTag("LabelError", (e) => new BadRequest({ message: e.message }))
          )
        }))
  }))
