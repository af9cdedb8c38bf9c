/** A second declared schema, other names and 6 features, no id column: fullprocess, the API and the report all follow it. */
import { HttpClient, HttpClientRequest } from "@effect/platform"
import { NodeHttpServer } from "@effect/platform-node"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Layer } from "effect"
import { DatasetSchema } from "../src/domain/Dataset.js"
import { ApiServer } from "../src/http/Server.js"
import { generateCsv } from "../src/programs/GenerateData.js"
import { fullProcess } from "../src/programs/FullProcess.js"
import { FileStore } from "../src/services/FileStore.js"
import { Model } from "../src/services/Model.js"
import { TestLayer } from "./layers.js"

const dataset = DatasetSchema.make({
  id_column: null,
  feature_columns: ["tenure_months", "monthly_spend", "support_tickets", "logins_30d", "seats", "late_payments"],
  target_column: "churned"
})

const files = {
  "/t/data/sourcedata/a.csv": generateCsv(300, 11, dataset),
  "/t/data/sourcedata/b.csv": generateCsv(300, 12, dataset),
  "/t/data/testdata/test.csv": generateCsv(120, 13, dataset)
}

const server = ApiServer(1 << 20).pipe(
  Layer.provideMerge(NodeHttpServer.layerTest),
  Layer.provideMerge(TestLayer(files, { dataset }))
)

describe("a second dataset schema", () => {
  it.effect("trains, deploys and reports on the declared columns; the API and its OpenAPI schema follow them", () =>
    Effect.gen(function*() {
      const summary = yield* fullProcess()
      assert.strictEqual(summary.outcome, "redeployed")
      assert.strictEqual(summary.ingestion!.totalRows, 600)
      assert.isAbove(summary.score!, 0.5)
      const model = yield* (yield* Model).load()
      assert.deepStrictEqual(model.features, dataset.feature_columns)
      const store = yield* FileStore
      assert.isAbove((yield* store.readFile("/t/data/models/report.pdf")).length, 1000)

      const client = yield* HttpClient.HttpClient
      const openapi = JSON.parse(yield* (yield* client.execute(HttpClientRequest.get("/openapi.json"))).text)
      const row = openapi.components.schemas.PredictionRow
      assert.deepStrictEqual(Object.keys(row.properties).sort(), [...dataset.feature_columns, "churned"].sort())
      assert.deepStrictEqual([...row.required].sort(), [...dataset.feature_columns].sort())

      const rows = [
        { tenure_months: 10, monthly_spend: 20, support_tickets: 30, logins_30d: 40, seats: 50, late_payments: 60 },
        { tenure_months: 90, monthly_spend: 10, support_tickets: 250, logins_30d: 5, seats: 480, late_payments: null }
      ]
      const res = yield* client.execute(HttpClientRequest.post("/prediction").pipe(HttpClientRequest.bodyUnsafeJson({ rows })))
      assert.strictEqual(res.status, 200)
      const body = JSON.parse(yield* res.text)
      assert.strictEqual(body.predictions.length, 2)
      assert.strictEqual(body.probabilities.length, 2)

      // the default columns are not this API's: a row of them is a 400 naming the missing feature
      const wrong = yield* client.execute(HttpClientRequest.post("/prediction").pipe(HttpClientRequest.bodyUnsafeJson({ rows: [{ lastmonth_activity: 1 }] })))
      assert.strictEqual(wrong.status, 400)
      assert.include(yield* wrong.text, "tenure_months")

      const csvBody = "seats,late_payments,tenure_months,monthly_spend,support_tickets,logins_30d\n1,2,3,4,5,6\n"
      const fromCsv = yield* client.execute(HttpClientRequest.post("/prediction").pipe(HttpClientRequest.bodyText(csvBody, "text/csv")))
      assert.strictEqual(fromCsv.status, 200)
      assert.strictEqual(JSON.parse(yield* fromCsv.text).predictions.length, 1)

      const stats = JSON.parse(yield* (yield* client.execute(HttpClientRequest.get("/summarystats"))).text)
      assert.deepStrictEqual(stats.map((s: { column: string }) => s.column), dataset.feature_columns)
      const diagnostics = JSON.parse(yield* (yield* client.execute(HttpClientRequest.get("/diagnostics"))).text)
      assert.deepStrictEqual(diagnostics.missing.map((m: { column: string }) => m.column), [...dataset.feature_columns, "churned"])
    }).pipe(Effect.provide(server)))
})
