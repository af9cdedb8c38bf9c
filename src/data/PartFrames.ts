/**
 * The frames of a snapshot's parts, read once per process. Parts are immutable Parquet
 * files named by their hash, so a frame read from some of them (the new rows for the drift
 * check, the live model's training data for data drift) is still right when the training
 * reads a snapshot made of the same parts: it is copied from here rather than read again.
 * A frame is kept with the parts it came from (a segment), in their order; categorical codes
 * index the segment's own levels and are mapped onto the levels of the frame that reuses them.
 */
import type { Frame } from "../lib/Frame.js"

/** A frame read from consecutive parts of a snapshot (their paths, in order). */
export interface Segment {
  readonly paths: ReadonlyArray<string>
  readonly frame: Frame
}

/** How a frame over `paths` is made: cached segments where they match, reads for the rest. */
export type Plan = ReadonlyArray<{ readonly segment: Segment } | { readonly read: ReadonlyArray<string> }>

/** At most this many segments are kept (a run reads three frames before it trains: the monitor's reference, the new rows, data drift's reference). */
export const MAX_SEGMENTS = 3

const startsAt = (paths: ReadonlyArray<string>, i: number, s: Segment) =>
  s.paths.length <= paths.length - i && s.paths.every((p, k) => paths[i + k] === p)
const samePaths = (a: Segment, b: Segment) => a.paths.length === b.paths.length && startsAt(a.paths, 0, b)

/** The plan for `paths`: the longest cached segment at each position, else a run of parts to read. */
export const plan = (paths: ReadonlyArray<string>, segments: ReadonlyArray<Segment>): Plan => {
  const steps: Array<{ segment: Segment } | { read: Array<string> }> = []
  let i = 0
  while (i < paths.length) {
    let best: Segment | undefined
    for (const s of segments) if (startsAt(paths, i, s) && s.paths.length > (best?.paths.length ?? 0)) best = s
    if (best !== undefined) {
      steps.push({ segment: best })
      i += best.paths.length
      continue
    }
    const last = steps.at(-1)
    if (last !== undefined && "read" in last) last.read.push(paths[i]!)
    else steps.push({ read: [paths[i]!] })
    i++
  }
  return steps
}

/** The codes of `from` (a segment's levels) as indices into `to`, which holds every one of them. */
const codeMap = (from: ReadonlyArray<string>, to: ReadonlyArray<string>) => {
  const index = new Map(to.map((l, k) => [l, k]))
  return Float64Array.from(from, (l) => {
    const k = index.get(l)
    if (k === undefined) throw new Error(`the category ${JSON.stringify(l)} of a snapshot part is missing from the snapshot's categories`)
    return k
  })
}

/**
 * Copy a segment's rows into `out` (the features, then the target) from row `offset`, its
 * categorical codes mapped onto `levels`. Returns the rows copied.
 */
export const copyInto = (frame: Frame, levels: ReadonlyArray<ReadonlyArray<string> | null>, out: ReadonlyArray<Float64Array>, offset: number): number => {
  frame.features.forEach((col, j) => {
    const own = frame.levels[j]
    const target = levels[j]
    const dst = out[j]!
    if (own === null || own === undefined || target === null || target === undefined || (own.length === target.length && own.every((l, k) => target[k] === l))) {
      dst.set(col, offset)
      return
    }
    const map = codeMap(own, target)
    for (let i = 0; i < col.length; i++) {
      const c = col[i]!
      dst[offset + i] = c === c ? map[c]! : Number.NaN
    }
  })
  out[frame.features.length]!.set(frame.target, offset)
  return frame.rows
}

/** The segments kept after `used` is read as a view: it goes to the front, the oldest beyond the limit go. */
export const remember = (segments: ReadonlyArray<Segment>, used: Segment): Array<Segment> =>
  [used, ...segments.filter((s) => s !== used && !samePaths(s, used))].slice(0, MAX_SEGMENTS)
