/**
 * POST /prediction with JSON rows, answered by the Node server itself.
 *
 * Through the API's machinery (its router, guard, fibers and schemas) a 100-row prediction
 * took about 0.6 ms of the event loop's CPU and 0.15 ms of the garbage collector's threads;
 * the same work without it (read the body, parse it, score it, log it, write the answer)
 * takes about a third of that. Under load that was most of the server's CPU, and at c=64
 * the latency's tail.
 *
 * So the server answers the plain requests itself, with what the API's handler answers
 * with (Prediction.ts's `answerOf`, the same prediction log and metrics) and the headers the
 * API sends. A plain request is `POST /prediction` with no query, a JSON body whose length is
 * declared and within `max_body_bytes`, no credentials, and a live release this process
 * read less than a second ago (Deployer.peek). Its body, once read, must also be what the
 * request schema would take as it is (`decodesUnchanged`): `rows` only, 1 to
 * min(max_prediction_rows, FAST_MAX_ROWS) of them. Everything else goes to the API, which
 * answers as before, errors word for word: a request not plain from its headers goes there
 * unread, and one whose body is not (or whose scoring throws) goes there with its body
 * replayed in a new IncomingMessage.
 */
import { IncomingMessage, type ServerResponse } from "node:http"
import type { LoggedRequest } from "../data/PredictionLog.js"
import type { DatasetSchema } from "../domain/Dataset.js"
import { frameFromJson } from "../lib/PredictionInput.js"
import type { Release } from "../services/Deployer.js"
import { mediaType } from "./Guard.js"
import { answerOf } from "./Prediction.js"

/**
 * Rows a fast answer takes at most: it holds the event loop (about 2 µs a row); the API
 * scores more in slices between which other requests are served.
 */
export const FAST_MAX_ROWS = 1000

/** What the fast path needs of the server's services, once they are up. */
export interface PredictionServices {
  readonly dataset: DatasetSchema
  readonly maxBodyBytes: number
  readonly maxRows: number
  /** the live release, when this process read it less than a second ago (Deployer.peek) */
  readonly live: () => Release | null
  /** the body would be decoded unchanged by the request schema (Api.ts's decodesUnchanged) */
  readonly unchanged: (body: unknown) => boolean
  /** record a scored request: the prediction log and the metrics, as the API's handler does */
  readonly record: (logged: LoggedRequest) => void
}

/** The same request with its body given again: for the API, once the fast path has read it. */
const replayed = (req: IncomingMessage, body: Buffer): IncomingMessage => {
  const again = new IncomingMessage(req.socket)
  again.httpVersionMajor = req.httpVersionMajor
  again.httpVersionMinor = req.httpVersionMinor
  again.httpVersion = req.httpVersion
  again.method = req.method!
  again.url = req.url!
  again.headers = req.headers
  again.rawHeaders = req.rawHeaders
  again.complete = true
  again.push(body)
  again.push(null)
  return again
}

export class PredictionFastPath {
  private services: PredictionServices | null = null

  /** Start answering (until then every request goes to the API). */
  connect(services: PredictionServices): void {
    this.services = services
  }

  /** Take a plain JSON POST /prediction and answer it; false: the API answers it (`toApi` is for a request whose body was read here). */
  take(req: IncomingMessage, res: ServerResponse, toApi: (req: IncomingMessage, res: ServerResponse) => void): boolean {
    const s = this.services
    if (s === null || req.method !== "POST" || req.url !== "/prediction") return false
    const h = req.headers
    const length = Number(h["content-length"])
    if (mediaType(h["content-type"]) !== "application/json" || h.authorization !== undefined || h["transfer-encoding"] !== undefined || h.expect !== undefined) return false
    if (!(length > 0 && length <= s.maxBodyBytes) || s.live() === null) return false
    const chunks: Array<Buffer> = []
    // a client gone before its body ended: nothing to answer
    req.on("error", () => {})
    req.on("data", (chunk: Buffer) => chunks.push(chunk))
    req.once("end", () => {
      const body = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks)
      if (!this.answer(s, body, res)) toApi(replayed(req, body), res)
    })
    return true
  }

  /** Answer from the body; false when the API should. */
  private answer(s: PredictionServices, body: Buffer, res: ServerResponse): boolean {
    let json: unknown
    try {
      json = JSON.parse(body.toString("utf8"))
    } catch {
      return false
    }
    if (!s.unchanged(json)) return false
    const rows = (json as { readonly rows?: ReadonlyArray<Readonly<Record<string, unknown>>> }).rows
    const live = s.live()
    if (rows === undefined || rows.length === 0 || rows.length > Math.min(s.maxRows, FAST_MAX_ROWS) || live === null) return false
    let answer: ReturnType<typeof answerOf>
    try {
      answer = answerOf(s.dataset, live, frameFromJson(s.dataset, rows), false)
    } catch {
      // the API answers it, and logs what failed
      return false
    }
    s.record(answer.logged)
    const out = Buffer.from(JSON.stringify(answer.result))
    res.writeHead(200, { "content-type": "application/json", "content-length": out.length, "x-content-type-options": "nosniff" })
    res.end(out)
    return true
  }
}
