/**
 * POST /prediction's answer, written once: the live release scores the request's frame, and
 * what the answer says (predictions, labels, probabilities, the release, warnings, and with
 * ?explain=true each row's explanation) and what the prediction log records follow from it.
 * The API's handler and the server's fast path (PredictionFastPath.ts) both answer with it.
 */
import { Effect, Metric } from "effect"
import { randomUUID } from "node:crypto"
import type { LoggedRequest } from "../data/PredictionLog.js"
import { type DatasetSchema, labelsOf } from "../domain/Dataset.js"
import type { ModelArtifact } from "../domain/Schemas.js"
import type { Unseen } from "../lib/learners/Encoding.js"
import { contributionsOf } from "../lib/learners/Learners.js"
import type { InputFrame } from "../lib/PredictionInput.js"
import type { Release } from "../services/Deployer.js"
import { predictFrame } from "../services/Model.js"

export const predictionsTotal = Metric.counter("drs_prediction_rows_total", { description: "rows scored by POST /prediction", incremental: true })
export const predictionRequests = Metric.counter("drs_prediction_requests_total", { description: "POST /prediction requests", incremental: true })

/** A scored request counted in /metrics. */
export const countPrediction = (rows: number) => Effect.zipRight(Metric.increment(predictionRequests), Metric.incrementBy(predictionsTotal, rows))

/** What the response says of categories the live model has not seen: each value and how many rows had it. */
const unseenWarnings = (unseen: ReadonlyArray<Unseen>) =>
  unseen.flatMap((u) => u.values.map((v) =>
    `${u.feature}: the category "${v.value}" (${v.rows} row${v.rows === 1 ? "" : "s"}) was not seen in training; encoded as unknown`))

/** Each row's explanation: the base log-odds and each feature's contribution (they add up to the row's log-odds). */
const explanations = (m: ModelArtifact, input: InputFrame) => {
  const { base, features, contributions } = contributionsOf(m, input)
  return Array.from({ length: input.rows }, (_, i) => ({
    base,
    contributions: Object.fromEntries(features.map((f, j) => [f, contributions[j]![i]!]))
  }))
}

/** The live release's answer to a frame of rows, and the prediction log's record of it. */
export const answerOf = (dataset: DatasetSchema, live: Release, input: InputFrame, explain: boolean) => {
  const unseen: Array<Unseen> = []
  const p = predictFrame(live.model, input, unseen)
  const [negative, positive] = labelsOf(dataset)
  const logged: LoggedRequest = {
    requestId: randomUUID(), at: Date.now(), releaseId: live.releaseId, rows: input.rows,
    features: input.features, levels: input.levels, probabilities: p.probabilities, predictions: p.predictions, ids: input.ids
  }
  const result = {
    predictions: Array.from(p.predictions) as Array<0 | 1>,
    labels: Array.from(p.predictions, (c) => (c === 1 ? positive : negative)),
    probabilities: Array.from(p.probabilities),
    releaseId: live.releaseId,
    warnings: unseenWarnings(unseen),
    ...(explain ? { explanations: explanations(live.model, input) } : {})
  }
  return { result, logged }
}
