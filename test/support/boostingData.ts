/**
 * A seeded synthetic attrition-like data set for the boosting tests and the scikit-learn
 * parity script: numeric features with thresholds and interactions, three categorical
 * features (3, 12 and 40 levels) carrying signal, missing values in numeric and categorical
 * columns. Pure and deterministic: the same seed gives the same columns on any machine.
 */
import type { FeatureColumn } from "../../src/lib/learners/boosting/index.js"
import { mulberry32 } from "../../src/lib/Random.js"

export interface SyntheticData {
  readonly rows: number
  readonly names: ReadonlyArray<string>
  readonly features: ReadonlyArray<FeatureColumn>
  readonly target: Uint8Array
}


export const categoricalFeatures = [5, 6, 7] as const

export const syntheticData = (rows: number, seed: number): SyntheticData => {
  const u = mulberry32(seed)
  const effects = mulberry32(12345) // level effects are the same for every seed
  const normal = (r: () => number) => {
    const a = Math.max(r(), 1e-300)
    return Math.sqrt(-2 * Math.log(a)) * Math.cos(2 * Math.PI * r())
  }
  const c1Effect = Array.from({ length: 12 }, () => 0.8 * normal(effects))
  const c2Effect = Array.from({ length: 40 }, () => 0.6 * normal(effects))
  const x0 = new Float64Array(rows)
  const x1 = new Float64Array(rows)
  const x2 = new Float64Array(rows)
  const x3 = new Float64Array(rows)
  const x4 = new Float64Array(rows)
  const c0 = new Int32Array(rows)
  const c1 = new Int32Array(rows)
  const c2 = new Int32Array(rows)
  const target = new Uint8Array(rows)
  for (let i = 0; i < rows; i++) {
    x0[i] = normal(u)
    x1[i] = u() < 0.08 ? Number.NaN : 10 * u()
    x2[i] = Math.exp(0.75 * normal(u))
    x3[i] = 18 + Math.floor(62 * u())
    x4[i] = u() < 0.03 ? Number.NaN : normal(u)
    const r0 = u()
    c0[i] = r0 < 0.6 ? 0 : r0 < 0.85 ? 1 : 2
    c1[i] = Math.min(11, Math.floor(12 * u() * u() * 1.9999))
    c2[i] = u() < 0.05 ? -1 : Math.floor(40 * u())
    let z = -0.6
    z += x0[i]! > 0.3 ? 1.0 : 0
    z += x2[i]! > 1 ? 0.6 * x0[i]! : -0.2 * x0[i]!
    z += Number.isNaN(x1[i]!) ? 0.8 : 0.25 * (x1[i]! - 5)
    z += 0.03 * (x3[i]! - 45) - (x3[i]! > 65 ? 0.7 : 0)
    z += [0, 0.5, -0.8][c0[i]!]!
    z += c1Effect[c1[i]!]!
    z += c2[i] === -1 ? 0.7 : c2Effect[c2[i]!]!
    target[i] = u() < 1 / (1 + Math.exp(-z)) ? 1 : 0
  }
  return {
    rows,
    names: ["x0", "x1", "x2", "x3", "x4", "c0", "c1", "c2"],
    features: [
      { kind: "numeric", values: x0 },
      { kind: "numeric", values: x1 },
      { kind: "numeric", values: x2 },
      { kind: "numeric", values: x3 },
      { kind: "numeric", values: x4 },
      { kind: "categorical", codes: c0, cardinality: 3 },
      { kind: "categorical", codes: c1, cardinality: 12 },
      { kind: "categorical", codes: c2, cardinality: 40 }
    ],
    target
  }
}

/** CSV with a header; missing numeric values and categorical code -1 as empty cells. */
export const toCsv = (d: SyntheticData): string => {
  const lines = [[...d.names, "y"].join(",")]
  for (let i = 0; i < d.rows; i++) {
    const cells = d.features.map((f) => {
      if (f.kind === "numeric") return Number.isNaN(f.values[i]!) ? "" : String(f.values[i])
      return f.codes[i]! < 0 ? "" : String(f.codes[i])
    })
    cells.push(String(d.target[i]))
    lines.push(cells.join(","))
  }
  return lines.join("\n") + "\n"
}

/** The parity cases: the same seeds and sizes in the test and in scripts/parity. */
export const parityCases = {
  small: { train: { rows: 6000, seed: 1 }, test: { rows: 3000, seed: 101 } },
  large: { train: { rows: 16000, seed: 2 }, test: { rows: 4000, seed: 102 } },
  tiny: { train: { rows: 1500, seed: 3 } }
} as const
