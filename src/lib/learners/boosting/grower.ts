/**
 * Leaf-wise (best-first) growth of one tree, as scikit-learn 1.2.1's `TreeGrower`: the
 * splittable leaf with the highest gain is split next (a heap ordered like Python's heapq),
 * under max_leaf_nodes, max_depth and min_samples_leaf; the smaller child's histograms are
 * built, the larger child's are the parent's minus the smaller's. Leaf values are the Newton
 * steps −G/(H + λ) times the learning rate (the root, if it stays a leaf, is 0 as in scikit-learn).
 */
import type { FeatureBinning } from "./binning.js"
import { buildHistograms, buildRootHistograms, histogramSize, subtractHistograms, type HistogramContext } from "./histogram.js"
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
  readonly start: number
  readonly stop: number
  readonly sumG: number
  readonly sumH: number
  readonly value: number
  hist: Float64Array | null
  split: SplitInfo | null
  left: GrowNode | null
  right: GrowNode | null
  isLeaf: boolean
}

/** Reusable buffers across the trees of one fit. */
export interface GrowerBuffers {
  readonly partition: Uint32Array
  readonly scratch: Uint32Array
  readonly pool: Array<Float64Array>
}

export const makeGrowerBuffers = (n: number): GrowerBuffers => ({
  partition: new Uint32Array(n),
  scratch: new Uint32Array(n),
  pool: []
})

export interface GrownTree {
  readonly tree: Tree
  /** rows of each leaf are partition[start, stop) */
  readonly leaves: ReadonlyArray<{ readonly start: number; readonly stop: number; readonly value: number }>
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
  hctx: HistogramContext,
  sctx: SplitterContext,
  binnings: ReadonlyArray<FeatureBinning>,
  settings: GrowerSettings,
  buffers: GrowerBuffers
): GrownTree => {
  const { gradients, hessians, binned } = hctx
  const n = gradients.length
  const { partition, scratch, pool } = buffers
  for (let i = 0; i < n; i++) partition[i] = i
  const size = histogramSize(sctx.nFeatures, sctx.binStride)
  const acquire = () => pool.pop() ?? new Float64Array(size)
  const release = (h: Float64Array | null) => {
    if (h !== null) pool.push(h)
  }

  let sumG = 0
  let sumH = 0
  for (let i = 0; i < n; i++) {
    sumG += gradients[i]!
    sumH += hessians[i]!
  }
  const leaves: Array<GrowNode> = []
  const heap: Array<GrowNode> = []
  const finalize = (node: GrowNode) => {
    node.isLeaf = true
    release(node.hist)
    node.hist = null
    leaves.push(node)
  }
  const computeSplitAndPush = (node: GrowNode) => {
    node.split = findNodeSplit(sctx, node.hist!, node.stop - node.start, node.sumG, node.sumH, node.value)
    if (node.split === null || node.split.gain <= 0) {
      node.split = null
      finalize(node)
    } else heapPush(heap, node)
  }
  const root: GrowNode = {
    depth: 0, start: 0, stop: n, sumG, sumH, value: 0,
    hist: null, split: null, left: null, right: null, isLeaf: false
  }
  if (n < 2 * settings.minSamplesLeaf || sumH < MIN_HESSIAN_TO_SPLIT) finalize(root)
  else {
    root.hist = acquire()
    buildRootHistograms(hctx, root.hist)
    computeSplitAndPush(root)
  }

  while (heap.length > 0) {
    const node = heapPop(heap)
    const split = node.split!
    // stable partition of the node's rows into left | right
    const col = binned[split.feature]!
    const leftBins = split.leftBins
    const missingBin = sctx.missingBin
    let l = node.start
    let r = 0
    if (leftBins !== null) {
      for (let i = node.start; i < node.stop; i++) {
        const row = partition[i]!
        if (leftBins[col[row]!] === 1) partition[l++] = row
        else scratch[r++] = row
      }
    } else {
      // the missing bin is above every threshold bin: it goes left only when sent there
      const threshold = split.binIndex
      if (split.missingGoToLeft) {
        for (let i = node.start; i < node.stop; i++) {
          const row = partition[i]!
          const b = col[row]!
          if (b <= threshold || b === missingBin) partition[l++] = row
          else scratch[r++] = row
        }
      } else {
        for (let i = node.start; i < node.stop; i++) {
          const row = partition[i]!
          if (col[row]! <= threshold) partition[l++] = row
          else scratch[r++] = row
        }
      }
    }
    partition.set(scratch.subarray(0, r), l)
    const depth = node.depth + 1
    const nLeafNodes = leaves.length + heap.length + 2
    const leftChild: GrowNode = {
      depth, start: node.start, stop: l, sumG: split.sumGradientLeft, sumH: split.sumHessianLeft,
      value: split.valueLeft, hist: null, split: null, left: null, right: null, isLeaf: false
    }
    const rightChild: GrowNode = {
      depth, start: l, stop: node.stop, sumG: split.sumGradientRight, sumH: split.sumHessianRight,
      value: split.valueRight, hist: null, split: null, left: null, right: null, isLeaf: false
    }
    node.left = leftChild
    node.right = rightChild
    const nl = l - node.start
    const nr = node.stop - l
    if (!sctx.hasMissing[split.feature]) split.missingGoToLeft = nl > nr

    if (settings.maxLeafNodes !== null && nLeafNodes === settings.maxLeafNodes) {
      finalize(leftChild)
      finalize(rightChild)
      while (heap.length > 0) finalize(heap.pop()!)
    } else if (settings.maxDepth !== null && depth === settings.maxDepth) {
      finalize(leftChild)
      finalize(rightChild)
    } else {
      if (nl < settings.minSamplesLeaf * 2) finalize(leftChild)
      if (nr < settings.minSamplesLeaf * 2) finalize(rightChild)
      const splitLeft = !leftChild.isLeaf
      const splitRight = !rightChild.isLeaf
      if (splitLeft || splitRight) {
        const [smallest, largest] = nl < nr ? [leftChild, rightChild] : [rightChild, leftChild]
        smallest.hist = acquire()
        buildHistograms(hctx, partition.subarray(smallest.start, smallest.stop), smallest.hist)
        largest.hist = acquire()
        subtractHistograms(node.hist!, smallest.hist, largest.hist)
        if (splitLeft) computeSplitAndPush(leftChild)
        if (splitRight) computeSplitAndPush(rightChild)
        for (const child of [leftChild, rightChild]) {
          if (child.isLeaf) {
            release(child.hist)
            child.hist = null
          }
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
  const leafRanges: Array<{ start: number; stop: number; value: number }> = []
  const visit = (node: GrowNode): void => {
    const id = t.split.length
    t.cover.push(node.stop - node.start)
    if (node.isLeaf || node.split === null) {
      const value = node.value * settings.shrinkage
      t.split.push(LEAF); t.feature.push(-1); t.threshold.push(0); t.missingGoToLeft.push(false)
      t.leftCategories.push([]); t.left.push(-1); t.right.push(-1); t.value.push(value); t.gain.push(0)
      leafRanges.push({ start: node.start, stop: node.stop, value })
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
  return { tree: t, leaves: leafRanges }
}
