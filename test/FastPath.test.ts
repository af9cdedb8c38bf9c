/**
 * The prediction request's fast path (http/FastPath.ts): every body decodes to what the plain
 * schema gives, errors word for word (message and issues), through the union the endpoint
 * takes; the OpenAPI document is the plain schema's; over HTTP a bad row gets the same 400, and
 * an answer (sent without the response schema's encoding) is the JSON that encoding gives.
 */
import { HttpApi, HttpApiEndpoint, HttpApiGroup, HttpApiSchema, OpenApi } from "@effect/platform"
import { NodeHttpServer } from "@effect/platform-node"
import { HttpClient, HttpClientRequest } from "@effect/platform"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Either, Layer, ParseResult, Schema } from "effect"
import { DEFAULT_DATASET, DatasetSchema } from "../src/domain/Dataset.js"
import { decodesUnchanged, predictionRequest, predictionRequestSchema, PredictionResponse } from "../src/http/Api.js"
import { ApiServer } from "../src/http/Server.js"
import { fullProcess } from "../src/programs/FullProcess.js"
import { referenceFiles, TestLayer } from "./layers.js"

const categorical = DatasetSchema.make({
  id_column: "customer",
  feature_columns: ["age", "plan", "region"],
  categorical_columns: ["plan", "region"],
  target_column: "churn"
})

const row = { lastmonth_activity: 1, lastyear_activity: 2.5, number_of_employees: 3 }

/** bodies for the default columns: valid ones the fast path takes, and every kind of wrong one */
const defaultBodies: ReadonlyArray<unknown> = [
  { rows: [row] },
  { rows: [row, { ...row, lastmonth_activity: null }] },
  { rows: [{ ...row, corporation: "abc", exited: 1 }, { ...row, corporation: 7, exited: "1" }] },
  { rows: [] },
  { csv: "a,b\n1,2\n" },
  { rows: [row], csv: "x" },
  {},
  // refused, or changed by the schema: through the schema
  { rows: [{ ...row, extra: 1 }] },
  { rows: [row], extra: true },
  { rows: [{ lastmonth_activity: 1, lastyear_activity: 2 }] },
  { rows: [{ ...row, lastmonth_activity: "x" }] },
  { rows: [{ ...row, lastmonth_activity: Number.POSITIVE_INFINITY }] },
  { rows: [{ ...row, lastmonth_activity: Number.NaN }] },
  { rows: [{ ...row, lastmonth_activity: true }] },
  { rows: [{ ...row, corporation: null }] },
  { rows: [{ ...row, exited: false }] },
  { rows: [{ ...row, number_of_employees: undefined }] },
  { rows: [row, [1, 2, 3]] },
  { rows: [row, null] },
  { rows: [row, "row"] },
  { rows: row },
  { rows: null },
  { rows: "x" },
  { csv: 5 },
  { csv: null },
  JSON.parse(`{"rows": [{"lastmonth_activity": 1, "lastyear_activity": 2, "number_of_employees": 3, "__proto__": {"x": 1}}]}`),
  JSON.parse(`{"__proto__": {"rows": 1}}`),
  [row],
  [],
  "lastmonth_activity\n1\n",
  "",
  5,
  null,
  true
]

const categoricalBodies: ReadonlyArray<unknown> = [
  { rows: [{ age: 30, plan: "gold", region: null }, { age: null, plan: 3, region: "north", customer: "c1", churn: "yes" }] },
  { rows: [{ age: 30, plan: "gold", region: "x", customer: 12 }] },
  { rows: [{ age: "30", plan: "gold", region: "x" }] },
  { rows: [{ age: 30, plan: true, region: "x" }] },
  { rows: [{ age: 30, plan: Number.NaN, region: "x" }] },
  { rows: [{ age: 30, plan: ["gold"], region: "x" }] },
  { rows: [{ age: 30, plan: "gold" }] },
  { rows: [{ age: 30, plan: "gold", region: "x", customer: null }] }
]

/** a decoding's result, comparable: the value, or the error as its message and its issues */
const outcome = (result: Either.Either<unknown, ParseResult.ParseError>) =>
  Either.match(result, {
    onRight: (value) => ({ value }),
    onLeft: (e) => ({ message: ParseResult.TreeFormatter.formatErrorSync(e), issues: ParseResult.ArrayFormatter.formatErrorSync(e) })
  })

const sameAsSchema = (dataset: DatasetSchema, bodies: ReadonlyArray<unknown>) => {
  const fast = predictionRequest(dataset)
  const plain = predictionRequestSchema(dataset)
  // the endpoint's payload: the request or a CSV document as text
  const csv = HttpApiSchema.Text({ contentType: "text/csv" })
  const pairs = [[fast, plain], [Schema.Union(fast, csv), Schema.Union(plain, csv)]] as const
  for (const options of [undefined, { errors: "all" as const }, { onExcessProperty: "error" as const }]) {
    for (const [f, p] of pairs) {
      for (const body of bodies) {
        const a = outcome(Schema.decodeUnknownEither(f as Schema.Schema<unknown>)(body, options))
        const b = outcome(Schema.decodeUnknownEither(p as Schema.Schema<unknown>)(body, options))
        assert.deepStrictEqual(a, b, `body ${JSON.stringify(body)?.slice(0, 200)} with ${JSON.stringify(options)}`)
      }
    }
  }
}

/** the OpenAPI document of one endpoint taking `payload` */
const openApiOf = (payload: Schema.Schema.Any) =>
  OpenApi.fromApi(HttpApi.make("x").add(HttpApiGroup.make("g").add(
    HttpApiEndpoint.post("p", "/p").setPayload(Schema.Union(payload, HttpApiSchema.Text({ contentType: "text/csv" })))
  )))

describe("the prediction request's fast path", () => {
  it("decodes every body as the schema does: the same values, the same errors", () => {
    sameAsSchema(DEFAULT_DATASET, defaultBodies)
    sameAsSchema(categorical, categoricalBodies)
    sameAsSchema(categorical, defaultBodies)
  })

  it("refuses more rows than the schema allows as the schema does", () => {
    const many = { rows: Array.from({ length: 100_001 }, () => row) }
    assert.isFalse(decodesUnchanged(DEFAULT_DATASET)(many))
    const fast = outcome(Schema.decodeUnknownEither(predictionRequest(DEFAULT_DATASET))(many))
    assert.deepStrictEqual(fast, outcome(Schema.decodeUnknownEither(predictionRequestSchema(DEFAULT_DATASET))(many)))
    assert.isTrue("message" in fast)
    assert.include((fast as { readonly message: string }).message, "100000")
  })

  it("takes the valid bodies without the schema, and leaves everything else to it", () => {
    const unchanged = decodesUnchanged(DEFAULT_DATASET)
    const taken = defaultBodies.filter(unchanged)
    assert.deepStrictEqual(taken, defaultBodies.slice(0, 7))
    assert.isTrue(decodesUnchanged(categorical)(categoricalBodies[0]))
    assert.isTrue(decodesUnchanged(categorical)(categoricalBodies[1]))
    assert.isFalse(categoricalBodies.slice(2).some(decodesUnchanged(categorical)))
  })

  it("leaves the OpenAPI document as the schema's", () => {
    for (const dataset of [DEFAULT_DATASET, categorical]) {
      assert.deepStrictEqual(openApiOf(predictionRequest(dataset)), openApiOf(predictionRequestSchema(dataset)))
    }
  })

  it.effect("over HTTP, a bad row is the schema's 400; a good one is predicted", () =>
    Effect.gen(function*() {
      yield* fullProcess()
      const client = yield* HttpClient.HttpClient
      const post = (body: unknown, path = "/prediction") =>
        Effect.flatMap(client.execute(HttpClientRequest.post(path).pipe(HttpClientRequest.bodyUnsafeJson(body))), (r) =>
          Effect.map(r.text, (text) => ({ status: r.status, text, body: JSON.parse(text) })))
      const bad = { rows: [row, { ...row, lastyear_activity: "two" }] }
      const answer = yield* post(bad)
      assert.strictEqual(answer.status, 400)
      // what the API says of a body the schema refuses: its issues and its message
      const expected = Either.getLeft(Schema.decodeUnknownEither(Schema.Union(predictionRequestSchema(DEFAULT_DATASET), HttpApiSchema.Text({ contentType: "text/csv" })))(bad))
      assert.isTrue(expected._tag === "Some")
      if (expected._tag === "Some") {
        assert.strictEqual(answer.body.message, ParseResult.TreeFormatter.formatErrorSync(expected.value))
        assert.deepStrictEqual(answer.body.issues, JSON.parse(JSON.stringify(ParseResult.ArrayFormatter.formatErrorSync(expected.value))))
      }
      const good = yield* post({ rows: [row, { ...row, corporation: "x", lastmonth_activity: null }] })
      assert.strictEqual(good.status, 200)
      assert.lengthOf(good.body.predictions, 2)
      // the answer is sent without the response schema's encoding: the same JSON, byte for byte
      for (const answer of [good, yield* post({ rows: [row] }, "/prediction?explain=true")]) {
        assert.strictEqual(answer.text, JSON.stringify(Schema.encodeSync(PredictionResponse)(answer.body)))
      }
    }).pipe(Effect.provide(ApiServer(1 << 20).pipe(Layer.provideMerge(NodeHttpServer.layerTest), Layer.provideMerge(TestLayer(referenceFiles()))))))
})
