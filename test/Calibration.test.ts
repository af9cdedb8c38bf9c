import { assert, describe, it } from "@effect/vitest"
import { calibrate, fitCalibration, heldOutCalibration, isotonicKnots, plattParameters } from "../src/lib/Calibration.js"
import { estimate, estimatedRocAuc, expectedConfusion } from "../src/lib/drift/Cbpe.js"
import { prng } from "../src/programs/GenerateData.js"

// 20 probabilities and labels; the figures below are scikit-learn 1.2.1's on them
const p = [0.1, 0.2, 0.2, 0.3, 0.45, 0.5, 0.55, 0.6, 0.7, 0.8, 0.9, 0.95, 0.15, 0.35, 0.65, 0.85, 0.05, 0.25, 0.75, 0.4]
const y = [0, 0, 1, 0, 1, 0, 1, 1, 0, 1, 1, 1, 0, 0, 1, 1, 0, 1, 1, 0]

describe("calibration", () => {
  it("isotonic regression predicts as scikit-learn's IsotonicRegression(out_of_bounds=\"clip\")", () => {
    const { x, y: v } = isotonicKnots(p, y)
    const c = { method: "isotonic" as const, x, y: v, rows: p.length, brierBefore: 0, brierAfter: 0 }
    // IsotonicRegression(...).fit(p, y).predict([0, 0.22, 0.5, 0.62, 1]) and at its thresholds
    const expected = [0, 1 / 3, 0.5, 0.75, 1]
    ;[0, 0.22, 0.5, 0.62, 1].forEach((q, i) => assert.closeTo(calibrate(c, q), expected[i]!, 1e-12))
    const thresholds = [0.05, 0.15, 0.2, 0.4, 0.45, 0.5, 0.55, 0.7, 0.75, 0.95]
    const values = [0, 0, 1 / 3, 1 / 3, 0.5, 0.5, 0.75, 0.75, 1, 1]
    thresholds.forEach((q, i) => assert.closeTo(calibrate(c, q), values[i]!, 1e-12))
    // between two knots: linear (0.15 → 0, 0.2 → 1/3)
    assert.closeTo(calibrate(c, 0.175), 1 / 6, 1e-12)
  })

  it("Platt scaling has scikit-learn's _sigmoid_calibration parameters (signs flipped: p' = σ(a·logit p + b))", () => {
    const { a, b } = plattParameters(p, y)
    assert.closeTo(a, 0.8521860144373163, 1e-6)
    assert.closeTo(b, 0.32950890899657354, 1e-6)
    const c = { method: "platt" as const, a, b, rows: 20, brierBefore: 0, brierAfter: 0 }
    assert.closeTo(calibrate(c, 0.1), 0.17610899589341494, 1e-6)
    assert.closeTo(calibrate(c, 0.2), 0.2990403611491348, 1e-6)
  })

  it("fitCalibration: Platt on few held-out rows, isotonic on many, none on too few or one class; it lowers the Brier score of distorted probabilities", () => {
    assert.strictEqual(fitCalibration(p, y)?.method, "platt")
    assert.isUndefined(fitCalibration(p.slice(0, 10), y.slice(0, 10)))
    assert.isUndefined(fitCalibration(p, y.map(() => 1)))
    // over-confident scores of a known truth: q = true probability pushed towards 0 and 1
    const rand = prng(3)
    const truth = Array.from({ length: 5000 }, () => rand())
    const labels = truth.map((t) => (rand() < t ? 1 : 0))
    const scores = truth.map((t) => 1 / (1 + Math.exp(-3 * Math.log(t / (1 - t)))))
    const c = fitCalibration(scores, labels)!
    assert.strictEqual(c.method, "isotonic")
    assert.strictEqual(c.rows, 5000)
    assert.isBelow(c.brierAfter, c.brierBefore - 0.01)
    // and it recovers the truth: calibrate(q(t)) ≈ t
    for (const t of [0.2, 0.5, 0.8]) assert.closeTo(calibrate(c, 1 / (1 + Math.exp(-3 * Math.log(t / (1 - t))))), t, 0.06)
  })

  it("heldOutCalibration fits on the rest and calibrates on a fifth of the rows", () => {
    const n = 600
    const x = [Float64Array.from({ length: n }, (_, i) => i / n)]
    const target = Float64Array.from({ length: n }, (_, i) => (i % 3 === 0 ? 0 : i / n > 0.4 ? 1 : 0))
    let seen: { train: number; held: number } | null = null
    const c = heldOutCalibration(x, target, (train, held) => {
      seen = { train: train.rows, held: held.rows }
      return Float64Array.from(held.features[0]!)
    })
    assert.deepStrictEqual(seen, { train: 480, held: 120 })
    assert.strictEqual(c?.method, "platt")
    assert.strictEqual(c?.rows, 120)
  })
})

describe("CBPE", () => {
  it("the expected confusion matrix, precision, recall and F1 (NannyML's formulas)", () => {
    const cal = [0.9, 0.8, 0.3, 0.6, 0.1]
    const pred = [1, 1, 0, 1, 0]
    const c = expectedConfusion(cal, pred)
    assert.closeTo(c.tp, 2.3, 1e-12)
    assert.closeTo(c.fp, 0.7, 1e-12)
    assert.closeTo(c.fn, 0.4, 1e-12)
    assert.closeTo(c.tn, 1.6, 1e-12)
    const e = estimate(cal, pred)
    assert.closeTo(e.precision, 2.3 / 3, 1e-12)
    assert.closeTo(e.recall, 2.3 / 2.7, 1e-12)
    assert.closeTo(e.f1, 4.6 / (4.6 + 1.1), 1e-12)
  })

  it("the expected ROC AUC is the probability that a positive outranks a negative, each row p positive and 1 − p negative", () => {
    const cal = [0.9, 0.8, 0.3, 0.6, 0.1]
    // Σ over ordered pairs i ≠ j of p_i (1 − p_j) [p_i > p_j], over Σp · Σ(1 − p) minus the diagonal's weight… computed directly:
    let num = 0
    for (let i = 0; i < cal.length; i++) for (let j = 0; j < cal.length; j++) {
      if (cal[i]! > cal[j]!) num += cal[i]! * (1 - cal[j]!)
      else if (i === j) num += 0.5 * cal[i]! * (1 - cal[j]!)
    }
    const P = cal.reduce((s, v) => s + v, 0)
    assert.closeTo(estimatedRocAuc(cal)!, num / (P * (cal.length - P)), 1e-12)
    assert.isNull(estimatedRocAuc([1, 1]))
  })
})
