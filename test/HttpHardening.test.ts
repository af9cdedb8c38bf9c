/**
 * The server as an attacker meets it, over real sockets: headers, bodies that are malformed,
 * too deep, too large (declared or chunked) or multipart, duplicate credentials, protected
 * endpoints answered before their body is read, and responses that name no server internals.
 */
import { HttpServer } from "@effect/platform"
import { NodeHttpServer } from "@effect/platform-node"
import { assert, describe, it } from "@effect/vitest"
import { Context, Effect, Layer } from "effect"
import { createServer } from "node:http"
import * as NodeNet from "node:net"
import * as NodeOs from "node:os"
import { frameFromCsvText } from "../src/http/Handlers.js"
import { DatasetSchema, DEFAULT_DATASET } from "../src/domain/Dataset.js"
import { ApiServer } from "../src/http/Server.js"
import { fullProcess } from "../src/programs/FullProcess.js"
import { lockPath } from "../src/programs/Lock.js"
import { FileStore } from "../src/services/FileStore.js"
import { referenceFiles, TestLayer } from "./layers.js"

const TOKEN = "hardening-token"
const MAX_BODY = 8192

interface Raw {
  readonly status: number
  readonly headers: Record<string, string>
  readonly body: string
}

/** One request as exact bytes over a socket (so nothing normalises it); the response read to the end. */
const raw = (port: number, head: string, body: string | ReadonlyArray<string> = "") =>
  new Promise<Raw>((resolve, reject) => {
    const socket = NodeNet.connect(port, "127.0.0.1")
    const chunks: Array<Buffer> = []
    socket.on("data", (c) => chunks.push(c))
    socket.on("error", reject)
    socket.on("close", () => {
      const text = Buffer.concat(chunks).toString("utf8")
      const at = text.indexOf("\r\n\r\n")
      if (at < 0) return reject(new Error(`no HTTP response: ${JSON.stringify(text.slice(0, 200))}`))
      const lines = text.slice(0, at).split("\r\n")
      const headers: Record<string, string> = {}
      for (const l of lines.slice(1)) headers[l.slice(0, l.indexOf(":")).toLowerCase()] = l.slice(l.indexOf(":") + 1).trim()
      let payload = text.slice(at + 4)
      if (headers["transfer-encoding"] === "chunked") {
        let out = ""
        for (let i = 0; ;) {
          const eol = payload.indexOf("\r\n", i)
          const n = parseInt(payload.slice(i, eol), 16)
          if (!(n > 0)) break
          out += payload.slice(eol + 2, eol + 2 + n)
          i = eol + 2 + n + 2
        }
        payload = out
      }
      resolve({ status: Number(lines[0]!.split(" ")[1]), headers, body: payload })
    })
    socket.write(`${head.trim()}\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n`)
    if (typeof body === "string") socket.write(body)
    else {
      // a chunked body, written as it is produced
      for (const c of body) socket.write(`${Buffer.byteLength(c).toString(16)}\r\n${c}\r\n`)
      socket.write("0\r\n\r\n")
    }
  })

const post = (port: number, path: string, type: string, body: string, extra = "") =>
  raw(port, `POST ${path} HTTP/1.1\r\nContent-Type: ${type}\r\nContent-Length: ${Buffer.byteLength(body)}${extra ? `\r\n${extra}` : ""}`, body)
const chunked = (port: number, path: string, type: string, parts: ReadonlyArray<string>, extra = "") =>
  raw(port, `POST ${path} HTTP/1.1\r\nContent-Type: ${type}\r\nTransfer-Encoding: chunked${extra ? `\r\n${extra}` : ""}`, parts)
const get = (port: number, path: string) => raw(port, `GET ${path} HTTP/1.1`)
const bearer = `Authorization: Bearer ${TOKEN}`

/** Nothing about the server's machine or code in a response body. */
const assertClean = (r: Raw, what: string) => {
  for (const leak of ["/t/", "/tmp", NodeOs.tmpdir(), NodeOs.hostname(), String(process.pid), "Error\"", "ParseError", "MultipartError", "HttpApiDecodeError", "RequestError"]) {
    assert.notInclude(r.body, leak, `${what} leaks ${leak}: ${r.body.slice(0, 300)}`)
  }
}

const withServer = <A, E>(use: (port: number, ctx: Context.Context<FileStore>) => Effect.Effect<A, E, never>) =>
  Effect.scoped(Effect.gen(function*() {
    const ctx = yield* Layer.build(ApiServer(MAX_BODY).pipe(
      Layer.provideMerge(NodeHttpServer.layer(createServer, { port: 0, host: "127.0.0.1" })),
      Layer.provideMerge(TestLayer(referenceFiles(), { api_token: TOKEN, max_body_bytes: MAX_BODY, max_prediction_rows: 5 }))
    ))
    yield* fullProcess().pipe(Effect.provide(ctx))
    const port = (Context.get(ctx, HttpServer.HttpServer).address as HttpServer.TcpAddress).port
    return yield* use(port, ctx)
  }))

const csvOf = (rows: number) =>
  "lastmonth_activity,lastyear_activity,number_of_employees\n" + Array.from({ length: rows }, (_, i) => `${i},${i * 2},${i % 7}`).join("\n") + "\n"

describe("HTTP hardening", () => {
  it.live("nosniff on every response; the dashboard has a CSP that forbids framing, no referrer, and no inline script", () =>
    withServer((port) => Effect.promise(async () => {
      const responses = [
        await get(port, "/health"), await get(port, "/"), await get(port, "/assets/dashboard.js"), await get(port, "/nowhere"),
        await get(port, "/openapi.json"), await post(port, "/prediction", "application/json", "{oops"),
        await post(port, "/fullprocess", "application/json", "{}")
      ]
      for (const r of responses) assert.strictEqual(r.headers["x-content-type-options"], "nosniff", `${r.status} ${r.body.slice(0, 200)}`)
      const page = responses[1]!
      assert.strictEqual(page.status, 200)
      const csp = page.headers["content-security-policy"] ?? ""
      assert.include(csp, "frame-ancestors 'none'")
      assert.include(csp, "script-src 'self'")
      assert.notInclude(csp, "unsafe-inline")
      assert.strictEqual(page.headers["referrer-policy"], "no-referrer")
      // every executable script comes from the app; the chart's data is an inert JSON block
      const scripts = [...page.body.matchAll(/<script([^>]*)>/g)].map((m) => m[1]!)
      assert.isAbove(scripts.length, 0)
      for (const attrs of scripts) assert.match(attrs, /src="\/assets\/|type="application\/json"/)
      assert.include(responses[2]!.headers["content-type"] ?? "", "javascript")
      assert.include(responses[2]!.body, "sessionStorage")
    })))

  it.live("malformed and too-deep JSON are 400s with a JSON message", () =>
    withServer((port) => Effect.promise(async () => {
      const bad = await post(port, "/prediction", "application/json", "{oops")
      assert.strictEqual(bad.status, 400)
      assert.include(JSON.parse(bad.body).message, "malformed JSON")
      const deep = await post(port, "/prediction", "application/json", "[".repeat(4000) + "]".repeat(4000))
      assert.strictEqual(deep.status, 400)
      assert.include(JSON.parse(deep.body).message, "nested deeper than 64")
      // 10,000 deep, which does not fit the body limit here: streamed, the limit answers first
      const deeper = await chunked(port, "/prediction", "application/json", ["[".repeat(5000), "]".repeat(5000)])
      assert.strictEqual(deeper.status, 413)
      // brackets inside strings are not nesting
      const inString = await post(port, "/prediction", "application/json", JSON.stringify({ csv: "[".repeat(200) }))
      assert.strictEqual(inString.status, 400)
      assert.include(JSON.parse(inString.body).message, "csv")
      for (const r of [bad, deep, inString]) assertClean(r, "a JSON error")
    })))

  it.live("an over-limit body is a 413, declared or chunked, on every endpoint that takes one", () =>
    withServer((port) => Effect.promise(async () => {
      const big = "x".repeat(MAX_BODY + 1)
      for (const path of ["/prediction", "/fullprocess", "/releases/anything/activate"]) {
        const declared = await post(port, path, "application/json", big, bearer)
        assert.strictEqual(declared.status, 413, `${path} declared: ${declared.body}`)
        const streamed = await chunked(port, path, "application/json", [big.slice(0, 5000), big.slice(5000), "y".repeat(3000)], bearer)
        assert.strictEqual(streamed.status, 413, `${path} chunked: ${streamed.body}`)
        assert.include(JSON.parse(streamed.body).message, `over the limit of ${MAX_BODY} bytes`)
      }
      // a chunked body within the limit is read whole
      const ok = await chunked(port, "/prediction", "text/csv", [csvOf(3).slice(0, 20), csvOf(3).slice(20)])
      assert.strictEqual(ok.status, 200, ok.body)
      assert.lengthOf(JSON.parse(ok.body).predictions, 3)
    })))

  it.live("multipart is a 415 naming no temp path or type", () =>
    withServer((port) => Effect.promise(async () => {
      const boundary = "----drsboundary"
      const body = `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="x.csv"\r\nContent-Type: text/csv\r\n\r\n${csvOf(2)}\r\n--${boundary}--\r\n`
      const r = await post(port, "/prediction", `multipart/form-data; boundary=${boundary}`, body)
      assert.strictEqual(r.status, 415)
      assert.include(JSON.parse(r.body).message, "application/json")
      assertClean(r, "multipart")
    })))

  it.live("protected endpoints answer 401 before the body; duplicate Authorization headers are a 400", () =>
    withServer((port) => Effect.promise(async () => {
      const releases = JSON.parse((await get(port, "/releases")).body) as Array<{ releaseId: string }>
      const id = releases[0]!.releaseId
      const badBody = await post(port, `/releases/${id}/activate`, "application/json", `{"reason": 42}`)
      assert.strictEqual(badBody.status, 401)
      assert.notInclude(badBody.body, "reason")
      // a protected endpoint does not read a body it will refuse, of any size
      const huge = await chunked(port, "/fullprocess", "application/json", ["x".repeat(MAX_BODY * 2)])
      assert.strictEqual(huge.status, 401)
      const dup = await raw(port, `POST /fullprocess HTTP/1.1\r\n${bearer}\r\nAuthorization: Bearer other\r\nContent-Length: 0`)
      assert.strictEqual(dup.status, 400)
      assert.include(JSON.parse(dup.body).message, "Authorization")
      const dupGet = await raw(port, `GET /health HTTP/1.1\r\nAuthorization: a\r\nauthorization: b`)
      assert.strictEqual(dupGet.status, 400)
      // with the token, a bad body is a 400; a reason over 500 characters is refused, 500 is kept
      const typed = await post(port, `/releases/${id}/activate`, "application/json", `{"reason": 42}`, bearer)
      assert.strictEqual(typed.status, 400)
      const long = await post(port, `/releases/${id}/activate`, "application/json", JSON.stringify({ reason: "r".repeat(501) }), bearer)
      assert.strictEqual(long.status, 400)
      const fine = await post(port, `/releases/${id}/activate`, "application/json", JSON.stringify({ reason: "r".repeat(500) }), bearer)
      assert.strictEqual(fine.status, 200, fine.body)
      assert.strictEqual(JSON.parse(fine.body).reason.length, 500)
    })))

  it.live("max_prediction_rows caps one request with a 413, for JSON rows and CSV", () =>
    withServer((port) => Effect.promise(async () => {
      const row = { lastmonth_activity: 1, lastyear_activity: 2, number_of_employees: 3 }
      const five = await post(port, "/prediction", "application/json", JSON.stringify({ rows: Array(5).fill(row) }))
      assert.strictEqual(five.status, 200, five.body)
      const six = await post(port, "/prediction", "application/json", JSON.stringify({ rows: Array(6).fill(row) }))
      assert.strictEqual(six.status, 413)
      assert.include(JSON.parse(six.body).message, "at most 5 (max_prediction_rows)")
      const csv = await post(port, "/prediction", "text/csv", csvOf(6))
      assert.strictEqual(csv.status, 413)
      assert.include(JSON.parse(csv.body).message, "6 rows in one request; at most 5")
      const inJson = await post(port, "/prediction", "application/json", JSON.stringify({ csv: csvOf(6) }))
      assert.strictEqual(inJson.status, 413)
    })))

  it.live("no response names a server path, a PID, a host name or an internal type", () =>
    withServer((port, ctx) => Effect.gen(function*() {
      const store = Context.get(ctx, FileStore)
      // another run holds the lock: a 409 that names neither the lock, nor the process, nor the host
      yield* store.writeAtomic(lockPath("/t/data/ingesteddata"), JSON.stringify({ pid: process.pid, host: NodeOs.hostname(), startedAt: new Date().toISOString() }))
      return yield* Effect.promise(async () => {
        const conflict = await post(port, "/fullprocess", "application/json", "", bearer)
        assert.strictEqual(conflict.status, 409)
        assert.include(JSON.parse(conflict.body).message, "another run is in progress")
        const scoring = await get(port, "/scoring")
        assert.strictEqual(scoring.status, 200)
        for (const r of [conflict, scoring, await get(port, "/health"), await get(port, "/summarystats"), await get(port, "/diagnostics"), await post(port, "/prediction", "application/json", "{}")]) {
          assertClean(r, "a response")
        }
      })
    })))
})

describe("CSV for prediction, read in place", () => {
  it.effect("gives the same columns as csv-parse: BOM, CRLF, blank lines, short and long lines, column order, categories; line numbers in errors", () =>
    Effect.gen(function*() {
      const dataset = DatasetSchema.make({ ...DEFAULT_DATASET, feature_columns: [...DEFAULT_DATASET.feature_columns, "plan"], categorical_columns: ["plan"] })
      const plain = "\uFEFFnumber_of_employees,extra,lastmonth_activity,lastyear_activity,plan\r\n3,x,1,2,gold\r\n\r\n6,y,4\r\n,z,7,8,NA,9\r\n"
      // the same document with quotes goes through csv-parse
      const quoted = plain.replace("3,x", `"3",x`)
      const a = yield* frameFromCsvText(plain, dataset)
      const b = yield* frameFromCsvText(quoted, dataset)
      assert.strictEqual(a.rows, 3)
      assert.deepStrictEqual(a.features.map((c) => Array.from(c)), [[1, 4, 7], [2, Number.NaN, 8], [3, 6, Number.NaN], [0, Number.NaN, Number.NaN]])
      assert.deepStrictEqual(a.levels, [null, null, null, ["gold"]])
      assert.deepStrictEqual(a.features.map((c) => Array.from(c)), b.features.map((c) => Array.from(c)))
      assert.deepStrictEqual(a.levels, b.levels)
      const bad = yield* Effect.flip(frameFromCsvText("lastmonth_activity,lastyear_activity,number_of_employees,plan\n1,2,3,a\n\n4,five,6,b\n", dataset))
      assert.include(bad.message, `line 4, column "lastyear_activity": "five" is not a number`)
      const many = yield* Effect.flip(frameFromCsvText(csvOf(11), DEFAULT_DATASET, 10))
      assert.strictEqual(many._tag, "PayloadTooLarge")
      assert.strictEqual((yield* frameFromCsvText(csvOf(10), DEFAULT_DATASET, 10)).rows, 10)
    }))
})
