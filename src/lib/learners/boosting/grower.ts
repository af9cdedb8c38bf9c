/**
 * Leaf-wise (best-first) growth of one tree, as scikit-learn 1.2.1's `TreeGrower`: the
 * splittable leaf with the highest gain is split next (a heap ordered like Python's heapq),
 * under max_leaf_nodes, max_depth and min_samples_leaf; the smaller child's histograms are
 * built, the larger child's are the parent's minus the smaller's. Leaf values are the Newton
 * steps −G/(H + λ) times the learning rate (the root, if it stays a leaf, is 0 as in scikit-learn).
 * The per-row work (gradients, partitions, histograms) is the chunks' (chunks.ts): a node's rows
 * are a range of the partition in each chunk.
 */
import type { FeatureBinning } from "./binning.js"
import type { Chunks } from "./chunks.js"
import { findNodeSplit, MIN_HESSIAN_TO_SPLIT, type SplitInfo, type SplitterContext } from "./splitter.js"
import { CATEGORICAL, LEAF, MISSING_ONLY, NUMERIC, type Tree } from "./tree.js"

export interface GrowerSettings {
  readonly maxLeafNodes: number | null
  readonly maxDepth: number | null
  readonly minSamplesLeaf: number
  readonly shrinkage: number
}

interface GrowNode {
  readonly depth: number
  /** per chunk c, its rows are partition[ranges[2c], ranges[2c + 1]) */
  readonly ranges: Int32Array
  /** rows in all chunks */
  readonly rows: number
  readonly sumG: number
  readonly sumH: number
  readonly value: number
  hist: Float64Array | null
  split: SplitInfo | null
  left: GrowNode | null
  right: GrowNode | null
  isLeaf: boolean
}

/** Histogram buffers reused across the trees of one fit. */
export type HistogramPool = Array<Float64Array>

export interface GrownTree {
  readonly tree: Tree
  /** leaf k's rows in chunk c: partition[leafRanges[(k * chunks + c) * 2], leafRanges[(k * chunks + c) * 2 + 1]) */
  readonly leafRanges: Int32Array
  readonly leafValues: Float64Array
  readonly leaves: number
}

/**
 * The bins a split sends left, as flags: a categorical split's set; for a numeric one the bins
 * up to its threshold, and the missing bin (above them all) when missing values go left.
 */
const leftBinsOf = (sctx: SplitterContext, split: SplitInfo, out: Uint8Array): Uint8Array => {
  if (split.leftBins !== null) return split.leftBins
  for (let b = 0; b < out.length; b++) out[b] = b <= split.binIndex ? 1 : 0
  if (split.missingGoToLeft) out[sctx.missingBin] = 1
  return out
}

/** The subtraction trick: the sibling's histograms are the parent's minus the child's. */
const subtract = (parent: Float64Array, child: Float64Array, out: Float64Array): void => {
  for (let k = 0; k < out.length; k++) out[k] = parent[k]! - child[k]!
}

const less = (a: GrowNode, b: GrowNode) => a.split!.gain > b.split!.gain

const siftDown = (heap: Array<GrowNode>, start: number, pos: number) => {
  const item = heap[pos]!
  while (pos > start) {
    const parentPos = (pos - 1) >> 1
    const parent = heap[parentPos]!
    if (less(item, parent)) {
      heap[pos] = parent
      pos = parentPos
      continue
    }
    break
  }
  heap[pos] = item
}

const siftUp = (heap: Array<GrowNode>, pos: number) => {
  const end = heap.length
  const start = pos
  const item = heap[pos]!
  let child = 2 * pos + 1
  while (child < end) {
    const right = child + 1
    if (right < end && !less(heap[child]!, heap[right]!)) child = right
    heap[pos] = heap[child]!
    pos = child
    child = 2 * pos + 1
  }
  heap[pos] = item
  siftDown(heap, start, pos)
}

const heapPush = (heap: Array<GrowNode>, node: GrowNode) => {
  heap.push(node)
  siftDown(heap, 0, heap.length - 1)
}

const heapPop = (heap: Array<GrowNode>): GrowNode => {
  const last = heap.pop()!
  if (heap.length === 0) return last
  const top = heap[0]!
  heap[0] = last
  siftUp(heap, 0)
  return top
}

export const growTree = (
  chunks: Chunks,
  sctx: SplitterContext,
  binnings: ReadonlyArray<FeatureBinning>,
  settings: GrowerSettings,
  pool: HistogramPool
): GrownTree => {
  const count = chunks.count
  const bounds = chunks.bounds
  const n = bounds[count * 2 - 1]! - bounds[0]!
  const size = sctx.nFeatures * sctx.binStride * 3
  const acquire = () => pool.pop() ?? new Float64Array(size)
  const release = (h: Float64Array | null) => {
    if (h !== null) pool.push(h)
  }

  const goLeft = new Uint8Array(sctx.binStride)
  const leaves: Array<GrowNode> = []
  const heap: Array<GrowNode> = []
  const finalize = (node: GrowNode) => {
    node.isLeaf = true
    release(node.hist)
    node.hist = null
    leaves.push(node)
  }
  const computeSplitAndPush = (node: GrowNode) => {
    node.split = findNodeSplit(sctx, node.hist!, node.rows, node.sumG, node.sumH, node.value)
    if (node.split === null || node.split.gain <= 0) {
      node.split = null
      finalize(node)
    } else heapPush(heap, node)
  }
  // the gradients at the current raw predictions, and the root's histograms
  const rootHist = acquire()
  const { sumG, sumH } = chunks.gradients(rootHist)
  const root: GrowNode = {
    depth: 0, ranges: Int32Array.from(bounds), rows: n, sumG, sumH, value: 0,
    hist: rootHist, split: null, left: null, right: null, isLeaf: false
  }
  if (n < 2 * settings.minSamplesLeaf || sumH < MIN_HESSIAN_TO_SPLIT) finalize(root)
  else computeSplitAndPush(root)

  while (heap.length > 0) {
    const node = heapPop(heap)
    const split = node.split!
    const depth = node.depth + 1
    const nLeafNodes = leaves.length + heap.length + 2
    const nl = split.nLeft
    const nr = split.nRight
    // which children stay leaves is known before the partition, from the split's counts
    const lastSplit = settings.maxLeafNodes !== null && nLeafNodes === settings.maxLeafNodes
    const atMaxDepth = settings.maxDepth !== null && depth === settings.maxDepth
    const splitLeft = !lastSplit && !atMaxDepth && nl >= settings.minSamplesLeaf * 2
    const splitRight = !lastSplit && !atMaxDepth && nr >= settings.minSamplesLeaf * 2
    const histogramsOf = !(splitLeft || splitRight) ? "none" : nl < nr ? "left" : "right"
    const smallestHist = histogramsOf === "none" ? null : acquire()
    const lefts = chunks.split(node.ranges, { feature: split.feature, leftBins: leftBinsOf(sctx, split, goLeft) }, histogramsOf, smallestHist)
    const leftRanges = new Int32Array(count * 2)
    const rightRanges = new Int32Array(count * 2)
    let partitioned = 0
    for (let c = 0; c < count; c++) {
      partitioned += lefts[c]! - node.ranges[c * 2]!
      leftRanges[c * 2] = node.ranges[c * 2]!
      leftRanges[c * 2 + 1] = lefts[c]!
      rightRanges[c * 2] = lefts[c]!
      rightRanges[c * 2 + 1] = node.ranges[c * 2 + 1]!
    }
    if (partitioned !== nl) throw new Error(`the partition sent ${partitioned} rows left, the histograms counted ${nl}`)
    const leftChild: GrowNode = {
      depth, ranges: leftRanges, rows: nl, sumG: split.sumGradientLeft, sumH: split.sumHessianLeft,
      value: split.valueLeft, hist: null, split: null, left: null, right: null, isLeaf: false
    }
    const rightChild: GrowNode = {
      depth, ranges: rightRanges, rows: nr, sumG: split.sumGradientRight, sumH: split.sumHessianRight,
      value: split.valueRight, hist: null, split: null, left: null, right: null, isLeaf: false
    }
    node.left = leftChild
    node.right = rightChild
    if (!sctx.hasMissing[split.feature]) split.missingGoToLeft = nl > nr

    // a child that will not be split is a leaf now; the last split allowed makes every waiting node one
    if (!splitLeft) finalize(leftChild)
    if (!splitRight) finalize(rightChild)
    if (lastSplit) while (heap.length > 0) finalize(heap.pop()!)
    if (smallestHist !== null) {
      const [smallest, largest] = histogramsOf === "left" ? [leftChild, rightChild] : [rightChild, leftChild]
      smallest.hist = smallestHist
      largest.hist = acquire()
      subtract(node.hist!, smallest.hist, largest.hist)
      if (splitLeft) computeSplitAndPush(leftChild)
      if (splitRight) computeSplitAndPush(rightChild)
      for (const child of [leftChild, rightChild]) {
        if (child.isLeaf) {
          release(child.hist)
          child.hist = null
        }
      }
    }
    release(node.hist)
    node.hist = null
  }

  // flatten in pre-order, as scikit-learn's _fill_predictor_arrays
  const t = {
    split: [] as Array<number>, feature: [] as Array<number>, threshold: [] as Array<number>,
    missingGoToLeft: [] as Array<boolean>, leftCategories: [] as Array<Array<number>>,
    left: [] as Array<number>, right: [] as Array<number>, value: [] as Array<number>,
    cover: [] as Array<number>, gain: [] as Array<number>
  }
  const leafRanges = new Int32Array(leaves.length * count * 2)
  const leafValues = new Float64Array(leaves.length)
  let leafCount = 0
  const visit = (node: GrowNode): void => {
    const id = t.split.length
    t.cover.push(node.rows)
    if (node.isLeaf || node.split === null) {
      const value = node.value * settings.shrinkage
      t.split.push(LEAF); t.feature.push(-1); t.threshold.push(0); t.missingGoToLeft.push(false)
      t.leftCategories.push([]); t.left.push(-1); t.right.push(-1); t.value.push(value); t.gain.push(0)
      leafRanges.set(node.ranges, leafCount * count * 2)
      leafValues[leafCount++] = value
      return
    }
    const s = node.split
    const f = s.feature
    const binning = binnings[f]!
    let kind: number
    let threshold = 0
    const cats: Array<number> = []
    if (s.isCategorical) {
      kind = CATEGORICAL
      const cardinality = binning.kind === "categorical" ? binning.cardinality : 0
      for (let c = 0; c < cardinality; c++) if (s.leftBins![c] === 1) cats.push(c)
    } else if (s.binIndex === sctx.nBinsNonMissing[f]! - 1) kind = MISSING_ONLY
    else {
      kind = NUMERIC
      threshold = binning.kind === "numeric" ? binning.thresholds[s.binIndex]! : 0
    }
    t.split.push(kind); t.feature.push(f); t.threshold.push(threshold); t.missingGoToLeft.push(s.missingGoToLeft)
    t.leftCategories.push(cats); t.left.push(-1); t.right.push(-1); t.value.push(0); t.gain.push(s.gain)
    t.left[id] = t.split.length
    visit(node.left!)
    t.right[id] = t.split.length
    visit(node.right!)
  }
  visit(root)
  return { tree: t, leafRanges, leafValues, leaves: leafCount }
}
