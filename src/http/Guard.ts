/**
 * What every request passes before and after the API: security headers; 400 for duplicate
 * `Authorization` headers; 401 on protected endpoints before the body is read; 415 for a
 * body the API does not take (multipart, say); the body read here under the limit (413,
 * declared or streamed); malformed or too deeply nested JSON a 400 with a JSON message; too
 * many prediction rows a 413; and every 5xx logged with its cause and answered with a JSON
 * body that names no server path or internal type (503 when the tracking database is down).
 */
import { HttpServerRequest, HttpServerResponse } from "@effect/platform"
import { HttpApiBuilder } from "@effect/platform"
import * as HttpApp from "@effect/platform/HttpApp"
import { Cause, Effect, Either, Option } from "effect"
import type { IncomingMessage } from "node:http"
import { describeFailure } from "../programs/Failure.js"
import { AppConfig } from "../services/AppConfig.js"
import { makeRequireToken } from "./Auth.js"
import { dashboardHeaders } from "./Dashboard.js"

export interface GuardOptions {
  readonly maxBodyBytes: number
}

/** JSON nested deeper than this is refused before it is parsed (a schema walks it recursively). */
export const MAX_JSON_DEPTH = 64

/** Body-bearing requests are only these media types. */
const ACCEPTED_TYPES = new Set(["application/json", "text/csv", "text/plain"])

const isProtected = (method: string, path: string) =>
  method === "POST" && (path === "/fullprocess" || /^\/releases\/[^/]+\/activate$/.test(path))

const errorJson = (status: number, tag: string, message: string, headers: Record<string, string> = {}) =>
  HttpServerResponse.unsafeJson({ _tag: tag, message }, { status, headers })

/** The deepest nesting of arrays and objects in a JSON text (strings skipped); stops counting past `limit`. */
export const jsonDepth = (text: string, limit: number): number => {
  let depth = 0
  let max = 0
  let inString = false
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i)
    if (inString) {
      if (c === 92) i++ // backslash: skip the escaped character
      else if (c === 34) inString = false
    } else if (c === 34) inString = true
    else if (c === 91 || c === 123) {
      if (++depth > max) {
        max = depth
        if (max > limit) return max
      }
    } else if (c === 93 || c === 125) depth--
  }
  return max
}

type Body = { readonly _tag: "Text"; readonly text: string } | { readonly _tag: "TooLarge"; readonly bytes: number }

/**
 * Read a request body up to `max` bytes. Past the limit nothing more is kept; the rest is read
 * and dropped (up to 16 × the limit) so the client gets its 413 instead of a reset connection.
 */
const readBody = (source: IncomingMessage, max: number) =>
  Effect.async<Body, Error>((resume) => {
    const chunks: Array<Buffer> = []
    let bytes = 0
    let done = false
    const finish = (b: Body) => {
      if (done) return
      done = true
      source.off("data", onData)
      resume(Effect.succeed(b))
    }
    const onData = (chunk: Buffer) => {
      bytes += chunk.length
      if (bytes <= max) chunks.push(chunk)
      else if (bytes > max * 16 + 65536) {
        // a client that keeps sending: answer now; the connection closes after the response
        source.pause()
        finish({ _tag: "TooLarge", bytes })
      }
    }
    source.on("data", onData)
    source.once("end", () => finish(bytes > max ? { _tag: "TooLarge", bytes } : { _tag: "Text", text: Buffer.concat(chunks, bytes).toString("utf8") }))
    source.once("error", (e) => {
      if (!done) {
        done = true
        resume(Effect.fail(e))
      }
    })
  })

/** The request with its body already read: the API decodes `text`/`json` from it. */
const withBody = (request: HttpServerRequest.HttpServerRequest, text: string, json: unknown): HttpServerRequest.HttpServerRequest =>
  Object.create(request, {
    text: { value: Effect.succeed(text) },
    json: { value: Effect.succeed(json) },
    // the body is consumed: no other reading of it
    arrayBuffer: { value: Effect.sync(() => new TextEncoder().encode(text).buffer) }
  })

export const tooManyRows = (rows: number, max: number) => `${rows} rows in one request; at most ${max} (max_prediction_rows): send them in several requests`

/** A Content-Type header's media type, lower case, without its parameters ("" when absent). */
export const mediaType = (header: string | undefined) => (header ?? "").split(";")[0]!.trim().toLowerCase()

const firstLine = (s: string) => s.split("\n")[0]!

const bodyText = (response: HttpServerResponse.HttpServerResponse) =>
  response.body._tag === "Uint8Array" ? new TextDecoder().decode(response.body.body).slice(0, 500) : `(${response.body._tag} body)`

/**
 * The API's defects (its typed errors are encoded by the API itself): logged with their cause
 * and answered with a JSON message; a tracking database that cannot be reached is a 503.
 */
export const apiFailures = HttpApiBuilder.middleware((app) =>
  Effect.catchAllCause(app, (cause) => {
    if (Option.isSome(Cause.failureOption(cause)) || Cause.isInterruptedOnly(cause)) return Effect.failCause(cause)
    return Effect.gen(function*() {
      const request = yield* HttpServerRequest.HttpServerRequest
      yield* Effect.logError(`${request.method} ${request.url.split("?")[0]} failed`, cause)
      return describeFailure(cause).tag === "DatabaseError"
        ? errorJson(503, "Unavailable", "the tracking database is unreachable; try again shortly")
        : errorJson(500, "InternalError", "internal server error; the server log has the cause")
    })
  }))

/** The guard around the API (see the module comment). */
export const guard = (options: GuardOptions) => <E, R>(app: HttpApp.Default<E, R>) =>
  Effect.gen(function*() {
      const request = yield* HttpServerRequest.HttpServerRequest
      const path = request.url.split("?")[0]!
      const headers = (response: HttpServerResponse.HttpServerResponse) =>
        HttpServerResponse.setHeaders(response, {
          "x-content-type-options": "nosniff",
          ...(request.method === "GET" && path === "/" ? dashboardHeaders : {})
        })
      // the API's own responses are written inside `app`: they get the headers (and a 5xx its
      // log line) just before they are sent
      yield* HttpApp.appendPreResponseHandler((_, response) =>
        response.status >= 500
          ? Effect.as(Effect.logError(`${request.method} ${path} answered ${response.status}: ${bodyText(response)}`), headers(response))
          : Effect.succeed(headers(response)))
      const respond = (response: HttpServerResponse.HttpServerResponse) => Effect.succeed(headers(response))
      const source = request.source as IncomingMessage
      const raw = Array.isArray(source.rawHeaders) ? source.rawHeaders : []
      let authorizations = 0
      for (let i = 0; i < raw.length; i += 2) if (raw[i]!.toLowerCase() === "authorization") authorizations++
      if (authorizations > 1) return yield* respond(errorJson(400, "BadRequest", "more than one Authorization header"))
      if (isProtected(request.method, path)) {
        const auth = yield* Effect.either(Effect.flatten(makeRequireToken))
        if (Either.isLeft(auth)) return yield* respond(errorJson(401, "Unauthorized", auth.left.message))
      }

      const length = request.headers["content-length"]
      const hasBody = request.headers["transfer-encoding"] !== undefined || (length !== undefined && length !== "0")
      // no body: the request as it came (providing it again would copy the fiber's context for nothing)
      if (!hasBody) return yield* app
      const type = mediaType(request.headers["content-type"])
      if (!ACCEPTED_TYPES.has(type)) {
        return yield* respond(errorJson(415, "UnsupportedMediaType", `a request body must be application/json${path === "/prediction" ? " or text/csv" : ""}, not ${type.length > 0 ? type.slice(0, 80) : "untyped"}`))
      }
      const declared = Number(length ?? "0")
      const tooLarge = (bytes: number, declaredOnly: boolean) =>
        respond(errorJson(413, "PayloadTooLarge", `request body of ${declaredOnly ? "" : "more than "}${bytes} bytes is over the limit of ${options.maxBodyBytes} bytes`, { connection: "close" }))
      if (Number.isFinite(declared) && declared > options.maxBodyBytes) return yield* tooLarge(declared, true)
      const body = yield* readBody(source, options.maxBodyBytes).pipe(Effect.either)
      if (Either.isLeft(body)) return yield* respond(errorJson(400, "BadRequest", "the request body could not be read"))
      if (body.right._tag === "TooLarge") return yield* tooLarge(options.maxBodyBytes, false)
      const text = body.right.text
      let json: unknown = null
      if (type === "application/json" && text.length > 0) {
        if (jsonDepth(text, MAX_JSON_DEPTH) > MAX_JSON_DEPTH) {
          return yield* respond(errorJson(400, "BadRequest", `malformed JSON: nested deeper than ${MAX_JSON_DEPTH} levels`))
        }
        try {
          json = JSON.parse(text)
        } catch (e) {
          return yield* respond(errorJson(400, "BadRequest", `malformed JSON: ${firstLine((e as Error).message)}`))
        }
        // many rows are refused before the payload schema checks each of them
        const rows = path === "/prediction" && json !== null && typeof json === "object" ? (json as { rows?: unknown }).rows : undefined
        const maxRows = (yield* AppConfig).max_prediction_rows
        if (Array.isArray(rows) && rows.length > maxRows) {
          return yield* respond(errorJson(413, "PayloadTooLarge", tooManyRows(rows.length, maxRows)))
        }
      }
      return yield* app.pipe(Effect.provideService(HttpServerRequest.HttpServerRequest, withBody(request, text, json)))
  })
