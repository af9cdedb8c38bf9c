/**
 * GET /health: what it answers, and a fast path that answers it from memory.
 *
 * `healthOf` is the answer, written once: the live release this process holds (even when
 * the database cannot be asked), or what is down. The API's handler returns it.
 *
 * Health checks come often and must be answered under load; through the API's machinery
 * (router, fibers, schemas) one took about 150 µs of CPU, five times what Node needs to
 * write the same bytes. So the server keeps the last healthy answer, computed by `healthOf`
 * every HEALTH_REFRESH_MS (the live release is itself read at most once a second, see
 * Deployer), and the Node server answers a plain `GET /health` with those bytes, with the
 * headers the API sends (Server.ts's `answeringFirst`). Anything else goes to the API as
 * before: a request with a query, a body or credentials, a degraded or undeployed server
 * (its 503 is the API's), an answer not refreshed for HEALTH_STALE_MS, or a server that
 * writes an access log.
 */
import { Effect, Exit, Option, Schedule } from "effect"
import { randomUUID } from "node:crypto"
import type { IncomingMessage, ServerResponse } from "node:http"
import { Deployer } from "../services/Deployer.js"
import { type Health, HealthDown } from "./Api.js"

/** This server process, as /health names it: random, so it says nothing about the machine. */
export const INSTANCE = randomUUID().slice(0, 8)

/** /health's answer: healthy, or what is down (the API answers that with a 503). */
export const healthOf = Effect.gen(function*() {
  const deployer = yield* Deployer
  // the live release this process holds, even when the database cannot be asked
  const r = yield* deployer.current().pipe(Effect.exit, Effect.map((e) => Exit.isSuccess(e) ? Option.some(e.value) : Option.none()))
  const releaseId = Option.getOrNull(Option.map(r, (x) => x.releaseId))
  if (!(yield* deployer.databaseReachable())) {
    return new HealthDown({
      status: "degraded", down: ["database"], releaseId,
      message: releaseId === null
        ? "the tracking database is unreachable"
        : `the tracking database is unreachable; predictions are served by release ${releaseId}, the live one when it was last reached`
    })
  }
  return {
    status: "ok" as const,
    releaseId,
    f1: Option.getOrNull(Option.flatMap(r, (x) => Option.fromNullable(x.f1))),
    instance: INSTANCE
  } satisfies typeof Health.Type
})

/** How often the server computes /health's answer for the fast path. */
export const HEALTH_REFRESH_MS = 250
/** An answer older than this is not used (the refresh has stopped): the API answers. */
export const HEALTH_STALE_MS = 2000

/** The last healthy answer, as the bytes the API would send. */
export class HealthAnswer {
  private body: Buffer | null = null
  private at = 0

  /** Record an answer: a healthy one is served from here, any other sends requests to the API. */
  set(answer: typeof Health.Type | HealthDown): void {
    this.body = answer instanceof HealthDown ? null : Buffer.from(JSON.stringify({ status: answer.status, releaseId: answer.releaseId, f1: answer.f1, instance: answer.instance }))
    this.at = Date.now()
  }

  /** Answer a plain GET /health from memory; false when the API should. */
  answer(req: IncomingMessage, res: ServerResponse): boolean {
    const body = this.body
    if (body === null || req.url !== "/health" || req.method !== "GET" || Date.now() - this.at > HEALTH_STALE_MS) return false
    const h = req.headers
    if (h.authorization !== undefined || h["content-length"] !== undefined || h["transfer-encoding"] !== undefined) return false
    res.writeHead(200, { "content-type": "application/json", "content-length": body.length, "x-content-type-options": "nosniff" })
    res.end(body)
    return true
  }

  /** Keep the answer current while the server runs (fork it in the server's scope). */
  refresh = Effect.flatMap(healthOf, (a) => Effect.sync(() => this.set(a))).pipe(
    Effect.catchAllCause(() => Effect.sync(() => {
      this.body = null
    })),
    Effect.repeat(Schedule.spaced(HEALTH_REFRESH_MS)),
    Effect.asVoid
  )
}
