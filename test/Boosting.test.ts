import { spawnSync } from "node:child_process"
import { describe, expect, it } from "vitest"
import { binColumn, findThresholds, sampleIndices, seededRandom } from "../src/lib/learners/boosting/binning.js"
import { makeChunks } from "../src/lib/learners/boosting/chunks.js"
import { PARALLEL_ROWS } from "../src/lib/learners/boosting/threads.js"
import { addTreePredictions, compileTree } from "../src/lib/learners/boosting/tree.js"
import {
  defaultBoostingSettings,
  fitBoosting,
  fitBoostingHeldOut,
  logLoss,
  predictProba,
  predictRaw,
  type BoostedModel,
  type BoostingSettings,
  type FeatureColumn
} from "../src/lib/learners/boosting/index.js"
import { classificationReport, rocAuc } from "../src/lib/Metrics.js"
import reference from "./fixtures/boosting-sklearn.json" with { type: "json" }
import { parityCases, syntheticData } from "./support/boostingData.js"

// scikit-learn 1.2.1's figures, written by scripts/parity/boosting-parity.mjs
interface RefNode {
  is_leaf: boolean; feature: number; threshold: number | "inf"; missing_go_to_left: boolean
  is_categorical: boolean; left_categories: Array<number>; left: number; right: number
  value: number; count: number; gain: number
}
const ref = reference as unknown as {
  sklearn: string
  small: { n_iter: number; early_stopping: boolean; f1: number; auc: number; baseline: number; raw_test_first_rows: Array<number>; thresholds: Record<string, Array<number>> }
  large: { n_iter: number; early_stopping: boolean; f1: number; auc: number; baseline: number; validation_loss: Array<number> }
  tiny: { baseline: number; trees: Array<Array<RefNode>>; raw_first_rows: Array<number> }
}

const small = {
  train: syntheticData(parityCases.small.train.rows, parityCases.small.train.seed),
  test: syntheticData(parityCases.small.test.rows, parityCases.small.test.seed)
}

const quality = (model: BoostedModel, test: { features: ReadonlyArray<FeatureColumn>; target: Uint8Array; rows: number }) => {
  const p = predictProba(model, test.features, test.rows)
  const predicted = Array.from(p, (v) => (v > 0.5 ? 1 : 0))
  return { f1: classificationReport(test.target, predicted).perClass["1"]!.f1, auc: rocAuc(test.target, p)! }
}

describe("binning (scikit-learn's _BinMapper)", () => {
  it("numeric thresholds equal scikit-learn's on every numeric column (percentiles and midpoints)", () => {
    expect(ref.sklearn).toBe("1.2.1")
    for (let j = 0; j < 5; j++) {
      const col = small.train.features[j]!
      if (col.kind !== "numeric") throw new Error("numeric expected")
      const ours = findThresholds(col.values, 255)
      const theirs = ref.small.thresholds[String(j)]!
      expect(ours.length).toBe(theirs.length)
      ours.forEach((t, k) => expect(t).toBe(theirs[k]))
    }
    // x3 has 62 distinct values: 61 midpoints; the others use 254 percentiles
    expect(ref.small.thresholds["3"]!.length).toBe(61)
    expect(ref.small.thresholds["0"]!.length).toBe(254)
  })

  it("the binning's subsample (above 200,000 rows) is Floyd's algorithm: k distinct rows, ascending, the same for a seed", () => {
    // the reference: Floyd's algorithm with a Set, as written before the flags
    const floyd = (n: number, k: number, random: () => number) => {
      const chosen = new Set<number>()
      for (let j = n - k; j < n; j++) {
        const t = Math.floor(random() * (j + 1))
        chosen.add(chosen.has(t) ? j : t)
      }
      return Array.from(chosen).sort((a, b) => a - b)
    }
    for (const [n, k, seed] of [[250_000, 200_000, 0], [1_000, 999, 3], [10, 10, 1]] as const) {
      const picked = Array.from(sampleIndices(n, k, seededRandom(seed)))
      expect(picked).toEqual(floyd(n, k, seededRandom(seed)))
      expect(new Set(picked).size).toBe(k)
    }
  })

  it("missing values get bin max_bins; categories keep their code as bin", () => {
    const numeric: FeatureColumn = { kind: "numeric", values: Float64Array.from([1, Number.NaN, 3, 2]) }
    const t = findThresholds(numeric.values, 255)
    expect(t).toEqual([1.5, 2.5])
    expect(Array.from(binColumn(numeric, { kind: "numeric", thresholds: t }, 255))).toEqual([0, 255, 2, 1])
    const cat: FeatureColumn = { kind: "categorical", codes: Int32Array.from([0, -1, 2, 1, 7]), cardinality: 3 }
    expect(Array.from(binColumn(cat, { kind: "categorical", cardinality: 3 }, 255))).toEqual([0, 255, 2, 1, 255])
    expect(Array.from(binColumn(numeric, { kind: "numeric", thresholds: t }, 63))).toEqual([0, 63, 2, 1])
  })
})

describe("the first trees match scikit-learn's exactly (1500 rows, max_iter=3, no early stopping)", () => {
  const tiny = syntheticData(parityCases.tiny.train.rows, parityCases.tiny.train.seed)
  const model = fitBoosting(tiny.features, tiny.target, { ...defaultBoostingSettings, max_iter: 3, early_stopping: false })

  it("baseline, structure, thresholds, missing directions, category sets, covers and leaf values", () => {
    expect(model.baseline).toBeCloseTo(ref.tiny.baseline, 14)
    expect(model.trees.length).toBe(3)
    let categoricalSplits = 0
    let missingOnly = 0
    ref.tiny.trees.forEach((nodes, t) => {
      const tree = model.trees[t]!
      expect(tree.split.length).toBe(nodes.length)
      nodes.forEach((n, k) => {
        expect(tree.cover[k]).toBe(n.count)
        if (n.is_leaf) {
          expect(tree.split[k]).toBe(0)
          expect(Math.abs(tree.value[k]! - n.value)).toBeLessThan(1e-9)
          return
        }
        expect(tree.feature[k]).toBe(n.feature)
        expect(tree.left[k]).toBe(n.left)
        expect(tree.right[k]).toBe(n.right)
        expect(tree.missingGoToLeft[k]).toBe(n.missing_go_to_left)
        expect(Math.abs(tree.gain[k]! - n.gain)).toBeLessThan(1e-9 * Math.max(1, Math.abs(n.gain)))
        if (n.is_categorical) {
          categoricalSplits++
          expect(tree.split[k]).toBe(2)
          expect(tree.leftCategories[k]).toEqual(n.left_categories)
        } else if (n.threshold === "inf") {
          missingOnly++
          expect(tree.split[k]).toBe(3)
        } else {
          expect(tree.split[k]).toBe(1)
          expect(tree.threshold[k]).toBe(n.threshold)
        }
      })
    })
    // the case exercises categorical splits
    expect(categoricalSplits).toBeGreaterThan(0)
    void missingOnly
  })

  it("raw predictions on the training rows equal scikit-learn's", () => {
    const raw = predictRaw(model, tiny.features, 20)
    ref.tiny.raw_first_rows.forEach((v, i) => expect(Math.abs(raw[i]! - v)).toBeLessThan(1e-9))
  })
})

describe("held-out quality within 0.02 of HistGradientBoostingClassifier", () => {
  it("6000 rows, early stopping off ('auto'): 100 iterations", () => {
    const model = fitBoosting(small.train.features, small.train.target, defaultBoostingSettings)
    expect(model.early_stopping.enabled).toBe(false)
    expect(model.iterations).toBe(ref.small.n_iter)
    expect(model.baseline).toBeCloseTo(ref.small.baseline, 14)
    const q = quality(model, small.test)
    // without early stopping the whole 100-tree model is scikit-learn's: held-out raw predictions agree
    const raw = predictRaw(model, small.test.features, 50)
    ref.small.raw_test_first_rows.forEach((v, i) => expect(Math.abs(raw[i]! - v)).toBeLessThan(1e-7))
    expect(Math.abs(q.f1 - ref.small.f1)).toBeLessThan(0.02)
    expect(Math.abs(q.auc - ref.small.auc)).toBeLessThan(0.02)
  })

  it("16000 rows, early stopping on ('auto'): stops early on the validation loss", () => {
    const train = syntheticData(parityCases.large.train.rows, parityCases.large.train.seed)
    const test = syntheticData(parityCases.large.test.rows, parityCases.large.test.seed)
    const model = fitBoosting(train.features, train.target, defaultBoostingSettings)
    expect(ref.large.early_stopping).toBe(true)
    expect(model.early_stopping.enabled).toBe(true)
    expect(model.early_stopping.validation_rows).toBe(1600)
    expect(model.early_stopping.stopped_early).toBe(true)
    expect(model.iterations).toBeLessThan(100)
    const losses = model.early_stopping.validation_loss
    expect(losses.length).toBe(model.iterations + 1)
    expect(model.early_stopping.train_loss.length).toBe(model.iterations + 1)
    // the stopping rule: none of the last 10 beats the 11th-to-last by more than tol
    const last = losses.slice(-11)
    expect(last.slice(1).every((l) => !(l < last[0]! - 1e-7))).toBe(true)
    const q = quality(model, test)
    expect(Math.abs(q.f1 - ref.large.f1)).toBeLessThan(0.02)
    expect(Math.abs(q.auc - ref.large.auc)).toBeLessThan(0.02)
  })
})

describe("determinism and serialisation", () => {
  const settings: BoostingSettings = { ...defaultBoostingSettings, max_iter: 20 }
  it("the same settings give the identical model JSON; a JSON round trip predicts identically", () => {
    const a = fitBoosting(small.train.features, small.train.target, settings)
    const b = fitBoosting(small.train.features, small.train.target, settings)
    const json = JSON.stringify(a)
    expect(JSON.stringify(b)).toBe(json)
    const back = JSON.parse(json) as BoostedModel
    expect(JSON.stringify(back)).toBe(json)
    const p1 = predictRaw(a, small.test.features, small.test.rows)
    const p2 = predictRaw(back, small.test.features, small.test.rows)
    expect(Array.from(p2)).toEqual(Array.from(p1))
  })

  it("early-stopping split is deterministic by random_state; the validation rows' predictions (routed by bins) are the model's (routed by values)", () => {
    const train = syntheticData(12000, 7)
    const s: BoostingSettings = { ...defaultBoostingSettings, max_iter: 15 }
    const { model, heldOut } = fitBoostingHeldOut(train.features, train.target, s)
    expect(heldOut!.rows.length).toBe(1200)
    const rows = heldOut!.rows
    const validation: Array<FeatureColumn> = train.features.map((f) =>
      f.kind === "numeric"
        ? { kind: "numeric", values: Float64Array.from(rows, (r) => f.values[r]!) }
        : { kind: "categorical", codes: Int32Array.from(rows, (r) => f.codes[r]!), cardinality: f.cardinality })
    expect(Array.from(heldOut!.raw)).toEqual(Array.from(predictRaw(model, validation, rows.length)))
    const a = JSON.stringify(model)
    expect(JSON.stringify(fitBoosting(train.features, train.target, s))).toBe(a)
    expect(JSON.stringify(fitBoosting(train.features, train.target, { ...s, random_state: 1 }))).not.toBe(a)
  })

  it("from PARALLEL_ROWS rows on, the rows are in two chunks and a worker thread runs one: the same model with one thread or two", () => {
    const train = syntheticData(PARALLEL_ROWS + 5000, 11)
    const s: BoostingSettings = { ...defaultBoostingSettings, max_iter: 8, early_stopping: false }
    const one = fitBoosting(train.features, train.target, s, { threads: 1 })
    const two = fitBoosting(train.features, train.target, s, { threads: 2 })
    expect(JSON.stringify(two)).toBe(JSON.stringify(one))
    // the trees learnt something: the training loss fell
    const raw = predictRaw(two, train.features, train.rows)
    expect(logLoss(train.target, raw)).toBeLessThan(logLoss(train.target, new Float64Array(train.rows).fill(two.baseline)) - 0.01)
    // with early stopping, the held-out rows are scored in two chunks too: the same model, and
    // each validation loss is the held-out rows' log loss summed in row order
    const es: BoostingSettings = { ...s, early_stopping: true }
    const oneEs = fitBoostingHeldOut(train.features, train.target, es, { threads: 1 })
    const twoEs = fitBoostingHeldOut(train.features, train.target, es, { threads: 2 })
    expect(JSON.stringify(twoEs.model)).toBe(JSON.stringify(oneEs.model))
    const heldOutY = Array.from(twoEs.heldOut!.rows, (r) => train.target[r]!)
    expect(twoEs.model.early_stopping.validation_loss.at(-1)).toBe(logLoss(heldOutY, twoEs.heldOut!.raw))
    expect(twoEs.model.early_stopping.validation_loss).toHaveLength(9)
    // and the second thread really ran: the chunks' worker answers with two chunks
    const n = PARALLEL_ROWS + 1
    const chunks = makeChunks(n, 1, 256, 2, 2)
    try {
      expect([chunks.count, chunks.parallel]).toEqual([2, true])
      const root = new Float64Array(256 * 3)
      // raw predictions 0: inverse odds 1
      chunks.inverseOdds.fill(1)
      expect(chunks.gradients(root).sumH).toBeCloseTo(n * 0.25, 6)
      // every row has bin 0 and target 0: all in bin 0 of the root's histograms
      expect([root[0], root[1], root[2]]).toEqual([n * 0.5, n * 0.25, n])
    } finally {
      chunks.close()
    }
  })

  it("batch prediction through the bins (predictor.ts) equals routing every row by its values, missing values and unknown codes included", () => {
    const model = fitBoosting(small.train.features, small.train.target, { ...defaultBoostingSettings, max_iter: 30 })
    // the test rows, with more missing values and a code the training never saw
    const test = small.test.features.map((f, j): FeatureColumn => f.kind === "numeric"
      ? { kind: "numeric", values: f.values.map((x, i) => (i % 17 === j ? Number.NaN : i % 23 === 0 ? 1e301 : x)) }
      : { kind: "categorical", codes: f.codes.map((c, i) => (i % 19 === j ? -1 : i % 29 === 0 ? f.cardinality + 3 : c)), cardinality: f.cardinality })
    const byValues = new Float64Array(small.test.rows).fill(model.baseline)
    for (const tree of model.trees) addTreePredictions(compileTree(tree), test, small.test.rows, byValues)
    expect(Array.from(predictRaw(model, test, small.test.rows))).toEqual(Array.from(byValues))
    // and after a JSON round trip (the artifact as it is served)
    expect(Array.from(predictRaw(JSON.parse(JSON.stringify(model)) as BoostedModel, test, small.test.rows))).toEqual(Array.from(byValues))
    // from PARALLEL_ROWS rows on, a worker thread predicts the second half: the same sums
    const rows = PARALLEL_ROWS + 7
    const tiled = test.map((f): FeatureColumn => f.kind === "numeric"
      ? { kind: "numeric", values: Float64Array.from({ length: rows }, (_, i) => f.values[i % small.test.rows]!) }
      : { kind: "categorical", codes: Int32Array.from({ length: rows }, (_, i) => f.codes[i % small.test.rows]!), cardinality: f.cardinality })
    const tiledByValues = Float64Array.from({ length: rows }, (_, i) => byValues[i % small.test.rows]!)
    expect(Array.from(predictRaw(model, tiled, rows))).toEqual(Array.from(tiledByValues))
  })

  it("rejects targets other than 0/1 and mismatched columns", () => {
    const f: Array<FeatureColumn> = [{ kind: "numeric", values: Float64Array.from([1, 2, 3]) }]
    expect(() => fitBoosting(f, [0, 1, 2], defaultBoostingSettings)).toThrow(/0 or 1/)
    expect(() => fitBoosting(f, [0, 1], defaultBoostingSettings)).toThrow(/rows/)
    const model = fitBoosting(f, [0, 1, 0], { ...defaultBoostingSettings, max_iter: 1 })
    expect(() => predictRaw(model, [], 3)).toThrow(/features/)
  })
})

describe("the kernels in WebAssembly (kernels.wat)", () => {
  it("kernels.wasm.ts is kernels.wat compiled (scripts/wat.mjs --check)", () => {
    const check = spawnSync(process.execPath, ["scripts/wat.mjs", "--check"], { encoding: "utf8" })
    expect(check.stderr).toBe("")
    expect(check.status).toBe(0)
  })

  it("gradients, histograms and a split equal the same arithmetic in JavaScript, to the bit", () => {
    const n = 5000
    const features = 4
    const stride = 256
    const chunks = makeChunks(n, features, stride, 4, 1)
    try {
      let seed = 7
      const random = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31)
      for (let i = 0; i < n; i++) {
        chunks.y[i] = random() < 0.3 ? 1 : 0
        chunks.inverseOdds[i] = Math.exp(4 * random() - 2)
        for (let f = 0; f < features; f++) chunks.binned[i * features + f] = f === 3 ? (random() < 0.1 ? 255 : 3) : Math.floor(random() * 255)
      }
      // the reference: scikit-learn's gradients as float32, the histograms summed in row order
      const grad = new Float32Array(n)
      const hess = new Float32Array(n)
      const gradients = () => {
        let sumG = 0
        let sumH = 0
        for (let i = 0; i < n; i++) {
          const e = chunks.inverseOdds[i]!
          const t = chunks.y[i]!
          grad[i] = (1 - t - t * e) / (1 + e)
          hess[i] = e / ((1 + e) * (1 + e))
          sumG += grad[i]!
          sumH += hess[i]!
        }
        return { sumG, sumH }
      }
      const histogramsOf = (rows: Array<number>) => {
        const out = new Float64Array(features * stride * 3)
        for (const i of rows) {
          for (let f = 0; f < features; f++) {
            const k = (f * stride + chunks.binned[i * features + f]!) * 3
            out[k] = out[k]! + grad[i]!
            out[k + 1] = out[k + 1]! + hess[i]!
            out[k + 2] = out[k + 2]! + 1
          }
        }
        return Array.from(out)
      }
      const all = Array.from({ length: n }, (_, i) => i)
      const root = new Float64Array(features * stride * 3)
      expect(chunks.gradients(root)).toEqual(gradients())
      expect(Array.from(root)).toEqual(histogramsOf(all))
      // split on feature 1 at bin 100 (bins 0..100 left): the right child's histograms
      const leftBins = Uint8Array.from({ length: stride }, (_, b) => (b <= 100 ? 1 : 0))
      const left = all.filter((i) => chunks.binned[i * features + 1]! <= 100)
      const right = all.filter((i) => chunks.binned[i * features + 1]! > 100)
      const child = new Float64Array(features * stride * 3)
      const lefts = chunks.split(Int32Array.from([0, n]), { feature: 1, leftBins }, "right", child)
      expect(Array.from(lefts)).toEqual([left.length])
      expect(Array.from(child)).toEqual(histogramsOf(right))
      // the left rows, split again on feature 3 (bin 255 right): they were kept in row order
      const leftBins3 = Uint8Array.from({ length: stride }, (_, b) => (b < 255 ? 1 : 0))
      const lefts3 = chunks.split(Int32Array.from([0, left.length]), { feature: 3, leftBins: leftBins3 }, "left", child)
      const leftLeft = left.filter((i) => chunks.binned[i * features + 3]! < 255)
      expect(Array.from(lefts3)).toEqual([leftLeft.length])
      expect(Array.from(child)).toEqual(histogramsOf(leftLeft))
      // a leaf's value multiplies its rows' inverse odds by exp(−value)
      const before = Float64Array.from(chunks.inverseOdds)
      chunks.applyLeaves(Int32Array.from([0, leftLeft.length]), Float64Array.from([0.5]), 1)
      for (const i of leftLeft) expect(chunks.inverseOdds[i]).toBe(before[i]! * Math.exp(-0.5))
      expect(chunks.inverseOdds[right[0]!]).toBe(before[right[0]!])
      // the next tree's gradients and root histograms (the root's counts are kept from the first)
      expect(chunks.gradients(root)).toEqual(gradients())
      expect(Array.from(root)).toEqual(histogramsOf(all))
    } finally {
      chunks.close()
    }
  })

  it("refuses rows that need more than WebAssembly's 4 GiB, before it allocates any", () => {
    expect(() => makeChunks(200_000_000, 15, 256, 31, 1)).toThrow(/200000000 rows of 15 features need .* GiB of working memory, over WebAssembly's 4 GiB/)
  })
})

describe("bin codes", () => {
  it("every value's bin is the first threshold >= it (grid-hinted search vs binary search)", () => {
    const values = Float64Array.from({ length: 20000 }, (_, i) => (i % 97 === 0 ? Number.NaN : Math.exp(Math.sin(i * 12.9898) * 4)))
    values[1] = 1e301
    values[2] = -Infinity
    for (const maxBins of [255, 16]) {
      const thresholds = findThresholds(values, maxBins)
      const codes = binColumn({ kind: "numeric", values }, { kind: "numeric", thresholds }, maxBins)
      values.forEach((x, i) => {
        const expected = Number.isNaN(x) ? maxBins : thresholds.findIndex((t) => t >= x)
        expect(codes[i]).toBe(expected === -1 ? thresholds.length : expected)
      })
    }
    // also on the parity data with its many tied values (x3: 62 ages)
    const col = small.train.features[3]!
    if (col.kind !== "numeric") throw new Error("numeric expected")
    const thresholds = findThresholds(col.values, 255)
    const codes = binColumn(col, { kind: "numeric", thresholds }, 255)
    col.values.forEach((x, i) => expect(codes[i]).toBe(thresholds.filter((t) => t < x).length))
  })
})
