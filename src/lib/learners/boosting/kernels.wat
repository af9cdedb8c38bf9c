;; The per-row work of a boosting iteration over one chunk of the training rows, in
;; WebAssembly (kernels.ts loads it; scripts/wat.mjs compiles this file into kernels.wasm.ts):
;; the gradients with the chunk's share of the root's histograms, the partition of a node's
;; rows at a split followed by one child's histograms, and the leaf values added to the
;; predictions. V8 ran the same loops, written in JavaScript, 2 to 3 times slower (its bounds
;; checks and register use in the histogram loop); the arithmetic is the same IEEE operations in
;; the same order, so the models are the same to the bit.
;;
;; Every argument is a byte offset into the one shared memory of the fit (chunks.ts lays it
;; out), or a count. The binned features are row-major: row i's bin of feature f is the byte at
;; binned + i * features + f. Histograms: for feature f and bin b, [sum_gradients (f64),
;; sum_hessians (f64), count (f64)] at out + ((f * binStride) + b) * 24, summed in row order
;; (as scikit-learn's `histogram.pyx`). The predictions are kept as inverse odds exp(−raw), one
;; f64 a row: the gradients then need no exponential and no division for it.
(module
  (import "env" "memory" (memory 1 65536 shared))

  ;; the histograms of rows part[from, to) (row numbers, u32) into out, zeroed first; the
  ;; counts too when $counts is 1 (they stay 0 otherwise: the root's are the same every tree)
  (func $histograms
    (param $binned i32) (param $features i32) (param $grad i32) (param $hess i32)
    (param $part i32) (param $from i32) (param $to i32) (param $binStride i32) (param $out i32) (param $counts i32)
    (local $i i32) (local $row i32) (local $at i32) (local $f i32) (local $k i32)
    (local $base i32) (local $step i32) (local $gh v128)
    (memory.fill (local.get $out) (i32.const 0) (i32.mul (i32.mul (local.get $features) (local.get $binStride)) (i32.const 24)))
    (local.set $step (i32.mul (local.get $binStride) (i32.const 24)))
    (local.set $i (local.get $from))
    (block $done
      (loop $rows
        (br_if $done (i32.ge_u (local.get $i) (local.get $to)))
        (local.set $row (i32.load (i32.add (local.get $part) (i32.shl (local.get $i) (i32.const 2)))))
        ;; [gradient, hessian] as two f64 lanes: a bin's two sums are one 16-byte add
        (local.set $gh (f64x2.replace_lane 1
          (f64x2.splat (f64.promote_f32 (f32.load (i32.add (local.get $grad) (i32.shl (local.get $row) (i32.const 2))))))
          (f64.promote_f32 (f32.load (i32.add (local.get $hess) (i32.shl (local.get $row) (i32.const 2)))))))
        (local.set $at (i32.add (local.get $binned) (i32.mul (local.get $row) (local.get $features))))
        (local.set $base (local.get $out))
        (local.set $f (i32.const 0))
        (block $features_done
          (loop $each_feature
            (br_if $features_done (i32.ge_u (local.get $f) (local.get $features)))
            (local.set $k (i32.add (local.get $base)
              (i32.mul (i32.load8_u (i32.add (local.get $at) (local.get $f))) (i32.const 24))))
            (v128.store (local.get $k) (f64x2.add (v128.load (local.get $k)) (local.get $gh)))
            (if (local.get $counts)
              (then (f64.store offset=16 (local.get $k) (f64.add (f64.load offset=16 (local.get $k)) (f64.const 1)))))
            (local.set $base (i32.add (local.get $base) (local.get $step)))
            (local.set $f (i32.add (local.get $f) (i32.const 1)))
            (br $each_feature)))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $rows))))

  ;; scikit-learn's `cgrad_hess_half_binomial` for rows [lo, hi), from each row's inverse odds
  ;; e = exp(−raw): gradient (1 − t − t e) / (1 + e), hessian e / (1 + e)², stored as f32; their
  ;; sums (of the stored values) at sums and sums + 8; each row's slot of part reset to the row
  ;; itself; the histograms of these rows (the root's share) in out, with their counts when
  ;; $counts is 1
  (func (export "gradients")
    (param $y i32) (param $inverseOdds i32) (param $grad i32) (param $hess i32) (param $part i32)
    (param $binned i32) (param $features i32) (param $binStride i32) (param $lo i32) (param $hi i32)
    (param $sums i32) (param $out i32) (param $counts i32)
    (local $i i32) (local $e f64) (local $t f64) (local $g f32) (local $h f32)
    (local $sumG f64) (local $sumH f64)
    (local.set $i (local.get $lo))
    (block $done
      (loop $rows
        (br_if $done (i32.ge_u (local.get $i) (local.get $hi)))
        (local.set $e (f64.load (i32.add (local.get $inverseOdds) (i32.shl (local.get $i) (i32.const 3)))))
        (local.set $t (f64.convert_i32_u (i32.load8_u (i32.add (local.get $y) (local.get $i)))))
        (local.set $g (f32.demote_f64 (f64.div
          (f64.sub (f64.sub (f64.const 1) (local.get $t)) (f64.mul (local.get $t) (local.get $e)))
          (f64.add (f64.const 1) (local.get $e)))))
        (local.set $h (f32.demote_f64 (f64.div
          (local.get $e)
          (f64.mul (f64.add (f64.const 1) (local.get $e)) (f64.add (f64.const 1) (local.get $e))))))
        (f32.store (i32.add (local.get $grad) (i32.shl (local.get $i) (i32.const 2))) (local.get $g))
        (f32.store (i32.add (local.get $hess) (i32.shl (local.get $i) (i32.const 2))) (local.get $h))
        (local.set $sumG (f64.add (local.get $sumG) (f64.promote_f32 (local.get $g))))
        (local.set $sumH (f64.add (local.get $sumH) (f64.promote_f32 (local.get $h))))
        (i32.store (i32.add (local.get $part) (i32.shl (local.get $i) (i32.const 2))) (local.get $i))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $rows)))
    (f64.store (local.get $sums) (local.get $sumG))
    (f64.store offset=8 (local.get $sums) (local.get $sumH))
    (call $histograms (local.get $binned) (local.get $features) (local.get $grad) (local.get $hess)
      (local.get $part) (local.get $lo) (local.get $hi) (local.get $binStride) (local.get $out) (local.get $counts)))

  ;; Stable partition of part[start, stop) at a split of feature `feature`: the rows whose bin is
  ;; flagged 1 in leftBins (a byte a bin) first, then the others (through scratch[start, stop)).
  ;; No branch on the side: each row is stored to both sides and the ends advance by its flag (a
  ;; split's sides are as good as random). Then the histograms of one side's rows (histogramsOf
  ;; 0: the left, 1: the right, −1: neither) in out. Returns the end of the left rows.
  (func (export "splitRows")
    (param $binned i32) (param $features i32) (param $grad i32) (param $hess i32)
    (param $feature i32) (param $leftBins i32) (param $part i32) (param $scratch i32)
    (param $start i32) (param $stop i32) (param $histogramsOf i32) (param $binStride i32) (param $out i32)
    (result i32)
    (local $i i32) (local $row i32) (local $left i32) (local $l i32) (local $r i32)
    (local.set $l (local.get $start))
    (local.set $r (local.get $start))
    (local.set $i (local.get $start))
    (block $done
      (loop $rows
        (br_if $done (i32.ge_u (local.get $i) (local.get $stop)))
        (local.set $row (i32.load (i32.add (local.get $part) (i32.shl (local.get $i) (i32.const 2)))))
        (local.set $left (i32.load8_u (i32.add (local.get $leftBins)
          (i32.load8_u (i32.add (i32.add (local.get $binned) (i32.mul (local.get $row) (local.get $features))) (local.get $feature))))))
        (i32.store (i32.add (local.get $part) (i32.shl (local.get $l) (i32.const 2))) (local.get $row))
        (i32.store (i32.add (local.get $scratch) (i32.shl (local.get $r) (i32.const 2))) (local.get $row))
        (local.set $l (i32.add (local.get $l) (local.get $left)))
        (local.set $r (i32.add (local.get $r) (i32.sub (i32.const 1) (local.get $left))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $rows)))
    (memory.copy
      (i32.add (local.get $part) (i32.shl (local.get $l) (i32.const 2)))
      (i32.add (local.get $scratch) (i32.shl (local.get $start) (i32.const 2)))
      (i32.shl (i32.sub (local.get $r) (local.get $start)) (i32.const 2)))
    (if (i32.eqz (local.get $histogramsOf))
      (then (call $histograms (local.get $binned) (local.get $features) (local.get $grad) (local.get $hess)
        (local.get $part) (local.get $start) (local.get $l) (local.get $binStride) (local.get $out) (i32.const 1))))
    (if (i32.eq (local.get $histogramsOf) (i32.const 1))
      (then (call $histograms (local.get $binned) (local.get $features) (local.get $grad) (local.get $hess)
        (local.get $part) (local.get $l) (local.get $stop) (local.get $binStride) (local.get $out) (i32.const 1))))
    (local.get $l))

  ;; Each leaf's value added to the raw predictions of its rows: their inverse odds times
  ;; exp(−value) (factors, an f64 a leaf). Leaf k's rows in this chunk are part[ranges[j],
  ;; ranges[j + 1]) with j = (k * chunks + chunk) * 2 (ranges: i32).
  (func (export "applyLeaves")
    (param $inverseOdds i32) (param $part i32) (param $ranges i32) (param $factors i32)
    (param $leaves i32) (param $chunk i32) (param $chunks i32)
    (local $k i32) (local $at i32) (local $i i32) (local $stop i32) (local $factor f64) (local $p i32)
    (block $done
      (loop $each_leaf
        (br_if $done (i32.ge_u (local.get $k) (local.get $leaves)))
        (local.set $at (i32.add (local.get $ranges)
          (i32.shl (i32.add (i32.mul (local.get $k) (local.get $chunks)) (local.get $chunk)) (i32.const 3))))
        (local.set $i (i32.load (local.get $at)))
        (local.set $stop (i32.load offset=4 (local.get $at)))
        (local.set $factor (f64.load (i32.add (local.get $factors) (i32.shl (local.get $k) (i32.const 3)))))
        (block $rows_done
          (loop $rows
            (br_if $rows_done (i32.ge_u (local.get $i) (local.get $stop)))
            (local.set $p (i32.add (local.get $inverseOdds)
              (i32.shl (i32.load (i32.add (local.get $part) (i32.shl (local.get $i) (i32.const 2)))) (i32.const 3))))
            (f64.store (local.get $p) (f64.mul (f64.load (local.get $p)) (local.get $factor)))
            (local.set $i (i32.add (local.get $i) (i32.const 1)))
            (br $rows)))
        (local.set $k (i32.add (local.get $k) (i32.const 1)))
        (br $each_leaf))))

  ;; Prediction: the packed trees' outputs (predictor.ts's PackedTrees: per tree its root in
  ;; start (i32); per node leaf (u8, 1 for a leaf), feature (i32), child (i32 pairs: [right,
  ;; left]; a leaf is its own child), routes (binStride bytes: 1 for a bin sent left), value
  ;; (f64)) added to out[from, to) (f64) for binned rows (row i's bins at binned + i * features),
  ;; in blocks of 4096 rows that stay in cache while every tree runs over them. Four rows walk
  ;; down together, each step without a branch: their lookups do not wait on each other. Each
  ;; step is written out in full: V8 does not inline a WebAssembly helper, and the call cost
  ;; more than the step.
  (func (export "addTrees")
    (param $count i32) (param $start i32) (param $leaf i32) (param $feature i32) (param $child i32)
    (param $routes i32) (param $value i32) (param $binStride i32) (param $binned i32) (param $features i32)
    (param $from i32) (param $to i32) (param $out i32)
    (local $block i32) (local $end i32) (local $t i32) (local $root i32) (local $i i32) (local $a i32)
    (local $a1 i32) (local $a2 i32) (local $a3 i32) (local $p i32)
    (local $k0 i32) (local $k1 i32) (local $k2 i32) (local $k3 i32)
    (local.set $block (local.get $from))
    (block $done
      (loop $blocks
        (br_if $done (i32.ge_u (local.get $block) (local.get $to)))
        (local.set $end (select (local.get $to) (i32.add (local.get $block) (i32.const 4096))
          (i32.lt_u (local.get $to) (i32.add (local.get $block) (i32.const 4096)))))
        (local.set $t (i32.const 0))
        (block $trees_done
          (loop $trees
            (br_if $trees_done (i32.ge_u (local.get $t) (local.get $count)))
            (local.set $root (i32.load (i32.add (local.get $start) (i32.shl (local.get $t) (i32.const 2)))))
            (local.set $i (local.get $block))
            (block $quads_done
              (loop $quads
                (br_if $quads_done (i32.gt_u (i32.add (local.get $i) (i32.const 4)) (local.get $end)))
                (local.set $a (i32.add (local.get $binned) (i32.mul (local.get $i) (local.get $features))))
                (local.set $a1 (i32.add (local.get $a) (local.get $features)))
                (local.set $a2 (i32.add (local.get $a1) (local.get $features)))
                (local.set $a3 (i32.add (local.get $a2) (local.get $features)))
                (local.set $k0 (local.get $root))
                (local.set $k1 (local.get $root))
                (local.set $k2 (local.get $root))
                (local.set $k3 (local.get $root))
                (block $walked
                  (loop $walk
                    (br_if $walked (i32.and
                      (i32.and (i32.load8_u (i32.add (local.get $leaf) (local.get $k0))) (i32.load8_u (i32.add (local.get $leaf) (local.get $k1))))
                      (i32.and (i32.load8_u (i32.add (local.get $leaf) (local.get $k2))) (i32.load8_u (i32.add (local.get $leaf) (local.get $k3))))))
                    (local.set $k0 (i32.load (i32.add (local.get $child) (i32.shl
                      (i32.add (i32.shl (local.get $k0) (i32.const 1))
                        (i32.load8_u (i32.add (i32.add (local.get $routes) (i32.mul (local.get $k0) (local.get $binStride)))
                          (i32.load8_u (i32.add (local.get $a) (i32.load (i32.add (local.get $feature) (i32.shl (local.get $k0) (i32.const 2)))))))))
                      (i32.const 2)))))
                    (local.set $k1 (i32.load (i32.add (local.get $child) (i32.shl
                      (i32.add (i32.shl (local.get $k1) (i32.const 1))
                        (i32.load8_u (i32.add (i32.add (local.get $routes) (i32.mul (local.get $k1) (local.get $binStride)))
                          (i32.load8_u (i32.add (local.get $a1) (i32.load (i32.add (local.get $feature) (i32.shl (local.get $k1) (i32.const 2)))))))))
                      (i32.const 2)))))
                    (local.set $k2 (i32.load (i32.add (local.get $child) (i32.shl
                      (i32.add (i32.shl (local.get $k2) (i32.const 1))
                        (i32.load8_u (i32.add (i32.add (local.get $routes) (i32.mul (local.get $k2) (local.get $binStride)))
                          (i32.load8_u (i32.add (local.get $a2) (i32.load (i32.add (local.get $feature) (i32.shl (local.get $k2) (i32.const 2)))))))))
                      (i32.const 2)))))
                    (local.set $k3 (i32.load (i32.add (local.get $child) (i32.shl
                      (i32.add (i32.shl (local.get $k3) (i32.const 1))
                        (i32.load8_u (i32.add (i32.add (local.get $routes) (i32.mul (local.get $k3) (local.get $binStride)))
                          (i32.load8_u (i32.add (local.get $a3) (i32.load (i32.add (local.get $feature) (i32.shl (local.get $k3) (i32.const 2)))))))))
                      (i32.const 2)))))
                    (br $walk)))
                (local.set $p (i32.add (local.get $out) (i32.shl (local.get $i) (i32.const 3))))
                (f64.store (local.get $p) (f64.add (f64.load (local.get $p))
                  (f64.load (i32.add (local.get $value) (i32.shl (local.get $k0) (i32.const 3))))))
                (local.set $p (i32.add (local.get $out) (i32.shl (i32.add (local.get $i) (i32.const 1)) (i32.const 3))))
                (f64.store (local.get $p) (f64.add (f64.load (local.get $p))
                  (f64.load (i32.add (local.get $value) (i32.shl (local.get $k1) (i32.const 3))))))
                (local.set $p (i32.add (local.get $out) (i32.shl (i32.add (local.get $i) (i32.const 2)) (i32.const 3))))
                (f64.store (local.get $p) (f64.add (f64.load (local.get $p))
                  (f64.load (i32.add (local.get $value) (i32.shl (local.get $k2) (i32.const 3))))))
                (local.set $p (i32.add (local.get $out) (i32.shl (i32.add (local.get $i) (i32.const 3)) (i32.const 3))))
                (f64.store (local.get $p) (f64.add (f64.load (local.get $p))
                  (f64.load (i32.add (local.get $value) (i32.shl (local.get $k3) (i32.const 3))))))
                (local.set $i (i32.add (local.get $i) (i32.const 4)))
                (br $quads)))
            (block $rest_done
              (loop $rest
                (br_if $rest_done (i32.ge_u (local.get $i) (local.get $end)))
                (local.set $a (i32.add (local.get $binned) (i32.mul (local.get $i) (local.get $features))))
                (local.set $k0 (local.get $root))
                (block $walked1
                  (loop $walk1
                    (br_if $walked1 (i32.load8_u (i32.add (local.get $leaf) (local.get $k0))))
                    (local.set $k0 (i32.load (i32.add (local.get $child) (i32.shl
                      (i32.add (i32.shl (local.get $k0) (i32.const 1))
                        (i32.load8_u (i32.add (i32.add (local.get $routes) (i32.mul (local.get $k0) (local.get $binStride)))
                          (i32.load8_u (i32.add (local.get $a) (i32.load (i32.add (local.get $feature) (i32.shl (local.get $k0) (i32.const 2)))))))))
                      (i32.const 2)))))
                    (br $walk1)))
                (local.set $p (i32.add (local.get $out) (i32.shl (local.get $i) (i32.const 3))))
                (f64.store (local.get $p) (f64.add (f64.load (local.get $p))
                  (f64.load (i32.add (local.get $value) (i32.shl (local.get $k0) (i32.const 3))))))
                (local.set $i (i32.add (local.get $i) (i32.const 1)))
                (br $rest)))
            (local.set $t (i32.add (local.get $t) (i32.const 1)))
            (br $trees)))
        (local.set $block (i32.add (local.get $block) (i32.const 4096)))
        (br $blocks))))
)
