import { Effect } from "effect"
import { ingestionStep, scoringStep, trainingStep } from "../src/programs/Steps.js"

/** ingestion → training → scoring, as `run --steps ingestion,training,scoring` does */
export const FinalRun = Effect.gen(function*() {
  const ingested = yield* ingestionStep(null)
  const trained = yield* trainingStep(null)
  const score = yield* scoringStep(null)
  return { ingested, trained, score }
})
