"""scikit-learn's figures for test/fixtures/boosting-sklearn.json (run by boosting-parity.mjs)."""
import json
import sys

import numpy as np
import sklearn
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.metrics import f1_score, roc_auc_score

d = sys.argv[1]
CAT = [5, 6, 7]


def load(name):
    a = np.genfromtxt(f"{d}/{name}.csv", delimiter=",", skip_header=1, missing_values="", filling_values=np.nan)
    return a[:, :-1], a[:, -1].astype(int)


def fit(X, y, **kw):
    return HistGradientBoostingClassifier(random_state=0, categorical_features=CAT, **kw).fit(X, y)


def quality(case, thresholds=False, **kw):
    X, y = load(f"{case}-train")
    Xt, yt = load(f"{case}-test")
    clf = fit(X, y, **kw)
    p = clf.predict_proba(Xt)[:, 1]
    out = {
        "n_iter": int(clf.n_iter_),
        "early_stopping": bool(clf.do_early_stopping_),
        "f1": float(f1_score(yt, (p > 0.5).astype(int))),
        "auc": float(roc_auc_score(yt, p)),
        "baseline": float(clf._baseline_prediction.ravel()[0]),
        "validation_loss": [float(-s) for s in clf.validation_score_],
        "raw_test_first_rows": [float(v) for v in clf._raw_predict(Xt).ravel()[:50]],
    }
    if thresholds:
        out["thresholds"] = {str(j): [float(t) for t in clf._bin_mapper.bin_thresholds_[j]] for j in range(5)}
    return out


def nodes(pred):
    out = []
    for k, n in enumerate(pred.nodes):
        cats = []
        if n["is_categorical"] and not n["is_leaf"]:
            bits = pred.raw_left_cat_bitsets[n["bitset_idx"]]
            cats = [c for c in range(256) if (int(bits[c // 32]) >> (c % 32)) & 1]
        out.append({
            "is_leaf": bool(n["is_leaf"]),
            "feature": int(n["feature_idx"]),
            "threshold": float(n["num_threshold"]) if np.isfinite(n["num_threshold"]) else "inf",
            "missing_go_to_left": bool(n["missing_go_to_left"]),
            "is_categorical": bool(n["is_categorical"]),
            "left_categories": cats,
            "left": int(n["left"]),
            "right": int(n["right"]),
            "value": float(n["value"]),
            "count": int(n["count"]),
            "gain": float(n["gain"]),
        })
    return out


X, y = load("tiny-train")
tiny = fit(X, y, max_iter=3, early_stopping=False)
raw = tiny._raw_predict(X).ravel()
result = {
    "sklearn": sklearn.__version__,
    "small": quality("small", thresholds=True),
    "large": quality("large"),
    "tiny": {
        "baseline": float(tiny._baseline_prediction.ravel()[0]),
        "trees": [nodes(p[0]) for p in tiny._predictors],
        "raw_first_rows": [float(v) for v in raw[:20]],
    },
}
print(json.dumps(result, indent=1))
