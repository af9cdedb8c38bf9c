/**
 * Progress of long steps (ingestion, training): rows and rows/s on one updating line of an
 * interactive terminal. Silent when stderr is not a terminal or under --json: the command
 * line decides once (`Progress.layer(enabled)`), and nothing else looks at the terminal.
 */
import { Effect, Layer } from "effect"

export interface ProgressLine {
  /** `rows` processed so far (in total), with an optional detail such as "file 2/4" */
  readonly update: (rows: number, detail?: string) => void
  readonly done: () => void
}

const SILENT: ProgressLine = { update: () => undefined, done: () => undefined }

const grouped = (n: number) => Math.round(n).toLocaleString("en-US")
const rate = (perSecond: number) =>
  perSecond >= 1e6 ? `${(perSecond / 1e6).toFixed(1)}M` : perSecond >= 1e3 ? `${(perSecond / 1e3).toFixed(0)}k` : perSecond.toFixed(0)

/** A line on `out` that redraws itself at most every `everyMs`. */
export const terminalLine = (label: string, out: NodeJS.WritableStream, everyMs = 100): ProgressLine => {
  const t0 = performance.now()
  let last = Number.NEGATIVE_INFINITY
  let latest: { rows: number; detail: string | undefined } | undefined
  const draw = (end: string) => {
    if (latest === undefined) return
    const seconds = (performance.now() - t0) / 1000
    const text = `${label}: ${grouped(latest.rows)} rows · ${rate(seconds > 0 ? latest.rows / seconds : 0)} rows/s${latest.detail ? ` · ${latest.detail}` : ""}`
    out.write(`\r\x1b[2K${text}${end}`)
  }
  return {
    update: (rows, detail) => {
      latest = { rows, detail }
      const now = performance.now()
      if (now - last < everyMs) return
      last = now
      draw("")
    },
    // the final figures, and the cursor on a new line
    done: () => draw("\n")
  }
}

export class Progress extends Effect.Service<Progress>()("drs/Progress", {
  succeed: { start: (_label: string): ProgressLine => SILENT }
}) {
  /** Progress on stderr when `enabled` (an interactive terminal, not --json); silent otherwise. */
  static readonly layer = (enabled: boolean) =>
    Layer.succeed(Progress, new Progress({ start: (label) => (enabled ? terminalLine(label, process.stderr) : SILENT) }))
  /** Silent. */
  static readonly layerTest = Progress.layer(false)
}
