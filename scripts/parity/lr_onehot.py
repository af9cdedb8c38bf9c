#!/usr/bin/python3
"""scikit-learn's figures for test/RealData.test.ts (pinned in test/fixtures/parity-lr-onehot.json).

Generates the same data as the test (`generate-data --categorical 5`: train seed 11, 8000 rows;
test seed 12, 3000 rows), fits the pipeline a Python user writes, and prints its held-out F1,
ROC AUC and predictions. Needs pandas and scikit-learn (Debian: python3-pandas python3-sklearn)
and a built dist/. Run from the repository: /usr/bin/python3 scripts/parity/lr_onehot.py > test/fixtures/parity-lr-onehot.json
"""
import json, os, subprocess, sys, tempfile
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import f1_score, roc_auc_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder

root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
tmp = tempfile.mkdtemp()
for name, rows, seed in (("train", 8000, 11), ("test", 3000, 12)):
    subprocess.run(["node", os.path.join(root, "dist/main.js"), "generate-data", os.path.join(tmp, name), "--categorical", "5",
                    "--rows", str(rows), "--files", "1", "--seed", str(seed), "--config", os.path.join(tmp, "none.json")],
                   check=True, stdout=subprocess.DEVNULL)
ds = json.load(open(os.path.join(tmp, "train", "dataset.json")))["dataset"]
feats, cats = ds["feature_columns"], ds["categorical_columns"]
nums = [f for f in feats if f not in cats]
read = lambda name: pd.read_csv(os.path.join(tmp, name, "bulk-000.csv"), dtype={c: str for c in cats})
train, test = read("train").drop_duplicates(), read("test")
y = (train[ds["target_column"]].astype(str) == ds["positive_label"]).astype(int)
yt = (test[ds["target_column"]].astype(str) == ds["positive_label"]).astype(int)
m = make_pipeline(
    ColumnTransformer([
        ("num", SimpleImputer(strategy="median"), nums),
        ("cat", make_pipeline(SimpleImputer(strategy="most_frequent"), OneHotEncoder(handle_unknown="ignore")), cats)]),
    LogisticRegression(solver="liblinear", C=1.0))
m.fit(train[feats], y)
p = m.predict_proba(test[feats])[:, 1]
pred = (p > 0.5).astype(int)
json.dump({
    "generatedBy": "scripts/parity/lr_onehot.py (scikit-learn " + __import__("sklearn").__version__ + ")",
    "trainRows": int(len(train)), "testRows": int(len(test)),
    "f1": float(f1_score(yt, pred)), "rocAuc": float(roc_auc_score(yt, p)),
    "predictions": "".join(map(str, pred.tolist()))
}, sys.stdout, indent=1)
print()
