/**
 * Alerts: what happened, POSTed as JSON to a webhook (`alert_webhook_url`), signed with an
 * HMAC of the body when `alert_webhook_secret` is set. Every delivery has a timeout and is
 * retried with exponential backoff on network errors, timeouts, 429 and 5xx; the outcome is
 * logged and recorded. An alert never fails the run that raised it.
 */
import { Duration, Effect, Layer, Ref, Schedule } from "effect"
import * as NodeCrypto from "node:crypto"
import { AppConfig } from "./AppConfig.js"
import { type AlertDeliveryRow, Tracking } from "./Tracking.js"

export type AlertEventName = "drift" | "deployed" | "gate-refused" | "rolled-back" | "run-failed" | "file-rejected" | "estimated-drop" | "realised-drop" | "serving-drift"

export interface AlertEvent {
  readonly event: AlertEventName
  readonly runId: number | null
  readonly details: Readonly<Record<string, unknown>>
}


/** `sha256=<hex HMAC-SHA256 of the body>`, the X-DRS-Signature header. */
export const signature = (secret: string, body: string) => `sha256=${NodeCrypto.createHmac("sha256", secret).update(body).digest("hex")}`

class Attempt {
  constructor(readonly retryable: boolean, readonly status: number | null, readonly message: string) {}
}

export class Alerts extends Effect.Service<Alerts>()("drs/Alerts", {
  effect: Effect.gen(function*() {
    const config = yield* AppConfig
    const tracking = yield* Tracking

    const notify = Effect.fn("Alerts.notify")(function*(e: AlertEvent) {
      const url = config.alert_webhook_url
      if (url === undefined) return
      const at = new Date().toISOString()
      const body = JSON.stringify({ ...e.details, event: e.event, runId: e.runId, at })
      const headers: Record<string, string> = { "content-type": "application/json", "user-agent": "drs-alerts/1" }
      if (config.alert_webhook_secret !== undefined) headers["x-drs-signature"] = signature(config.alert_webhook_secret, body)
      const attempts = yield* Ref.make(0)
      const once = Ref.update(attempts, (n) => n + 1).pipe(
        Effect.zipRight(Effect.tryPromise({
          try: () => fetch(url, { method: "POST", body, headers, signal: AbortSignal.timeout(config.alert_timeout_ms) }),
          catch: (err) => new Attempt(true, null, (err as Error).name === "TimeoutError" ? `no answer within ${config.alert_timeout_ms} ms` : String((err as Error).cause ?? err))
        })),
        Effect.flatMap((res) => {
          void res.body?.cancel()
          if (res.ok) return Effect.succeed(res.status)
          return Effect.fail(new Attempt(res.status === 429 || res.status >= 500, res.status, `HTTP ${res.status}`))
        })
      )
      const policy = Schedule.exponential(Duration.millis(config.alert_backoff_ms)).pipe(
        Schedule.intersect(Schedule.recurs(config.alert_retries)),
        Schedule.whileInput((a: Attempt) => a.retryable)
      )
      const outcome = yield* once.pipe(Effect.retry(policy), Effect.either)
      const delivery: AlertDeliveryRow = {
        event: e.event, runId: e.runId, url, attempts: yield* Ref.get(attempts), at,
        delivered: outcome._tag === "Right",
        httpStatus: outcome._tag === "Right" ? outcome.right : outcome.left.status,
        error: outcome._tag === "Left" ? outcome.left.message : null
      }
      if (!delivery.delivered) {
        yield* Effect.logWarning(`alert "${e.event}" not delivered to the webhook after ${delivery.attempts} attempt(s): ${delivery.error}`)
      }
      yield* tracking.recordAlert(delivery)
    }, (effect) => effect.pipe(Effect.catchAllCause((cause) => Effect.logWarning("an alert could not be sent", cause))))

    return { notify } as const
  })
}) {
  /** Alerts as configured (off without alert_webhook_url), over in-memory tracking. */
  static readonly layerTest = (config: Parameters<typeof AppConfig.layerTest>[0] = {}) =>
    Alerts.Default.pipe(Layer.provideMerge(Layer.mergeAll(Tracking.layerTest, AppConfig.layerTest(config))))
}
