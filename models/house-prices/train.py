"""House prices (seed 003): scikit-learn MLPRegressor on Boston-housing-like records.

Input rows (pipelines/ingest-train-evaluate-deploy/sql/ingest.sql): record_id, split ("train" or
"test", fixed by the ingest so every run holds out the same records), the 13 features below and
`target`. Rows with split = "test" are never trained on: `evaluate` scores them (the held-out split).

  python3 house-prices/train.py train    --data $INPUT_DIR/house_prices.ndjson
  python3 house-prices/train.py evaluate --model output/model.json --data ROWS   # {"rows", "mse", "r2"}
  python3 house-prices/train.py predict  --model output/model.json --data ROWS --out predictions.ndjson

Knobs (environment, set by the pipeline's parameters): L2_REGULARIZATION (MLPRegressor's alpha),
EPOCHS (passes over the training rows), HIDDEN_UNITS (one hidden layer), SEED (weights and
shuffling). One JSON line per epoch goes to $METRICS_FILE, so the worker shows live progress. The
model file is plain JSON (scaler and weights), read back with numpy: no pickle crosses machines.
"""
import json
import os
import sys
import time
import warnings

import numpy as np
import pandas as pd
from sklearn.exceptions import ConvergenceWarning
from sklearn.neural_network import MLPRegressor
from sklearn.preprocessing import StandardScaler

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from cli import subcommands  # noqa: E402

NAME = "house_prices"
FEATURES = ["crim", "zn", "indus", "chas", "nox", "rm", "age", "dis", "rad", "tax", "ptratio", "b", "lstat"]
LABEL = "target"
ID = "record_id"


def log(message):
    print("[%s] %s" % (time.strftime("%H:%M:%S"), message), flush=True)


def env_number(name, default, cast=float):
    value = os.environ.get(name, "")
    return cast(value) if value else default


def read_frame(path, columns):
    frame = pd.read_json(path, lines=True) if os.path.getsize(path) > 0 else pd.DataFrame()
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        sys.stderr.write("%s lacks column(s) %s (has %s)\n" % (path, ", ".join(missing), ", ".join(map(str, frame.columns))))
        sys.exit(2)
    return frame


def write_json_atomically(path, value):
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    temp = "%s.tmp-%d" % (path, os.getpid())
    with open(temp, "w", encoding="utf-8") as handle:
        json.dump(value, handle)
    os.replace(temp, path)


def forward(state, x):
    """The MLP's prediction from its JSON state (ReLU hidden layers, identity output)."""
    a = (x - np.array(state["scaler_mean"])) / np.array(state["scaler_scale"])
    layers = list(zip(state["coefs"], state["intercepts"]))
    for i, (w, b) in enumerate(layers):
        a = a @ np.array(w) + np.array(b)
        if i < len(layers) - 1:
            a = np.maximum(a, 0)
    return a.ravel()


def load_state(path):
    with open(path, encoding="utf-8") as handle:
        return json.load(handle)


def mse(y, p):
    return float(np.mean((np.asarray(y, dtype=float) - p) ** 2)) if len(y) else float("nan")


def train(args):
    run_dir = os.environ.get("RUN_DIR", os.getcwd())
    output_dir = os.environ.get("OUTPUT_DIR", os.path.join(run_dir, "output"))
    checkpoint_dir = os.environ.get("CHECKPOINT_DIR", os.path.join(run_dir, "checkpoints"))
    metrics_file = os.environ.get("METRICS_FILE", os.path.join(run_dir, "metrics.jsonl"))
    alpha = env_number("L2_REGULARIZATION", 0.0001)
    epochs = env_number("EPOCHS", 200, int)
    hidden = env_number("HIDDEN_UNITS", 32, int)
    seed = env_number("SEED", 1, int)

    frame = read_frame(args.data, [ID, "split", LABEL] + FEATURES)
    frame = frame.sort_values(ID)
    train_rows = frame[frame["split"] == "train"]
    test_rows = frame[frame["split"] == "test"]
    if train_rows.empty:
        log("no training rows in %s" % args.data)
        return 2
    scaler = StandardScaler().fit(train_rows[FEATURES].to_numpy(dtype=float))
    x = scaler.transform(train_rows[FEATURES].to_numpy(dtype=float))
    y = train_rows[LABEL].to_numpy(dtype=float)
    x_test = scaler.transform(test_rows[FEATURES].to_numpy(dtype=float)) if len(test_rows) else None
    y_test = test_rows[LABEL].to_numpy(dtype=float)
    log("training an MLP (%d hidden, alpha %g, %d epochs) on %d rows, %d held out" % (hidden, alpha, epochs, len(x), len(test_rows)))
    model = MLPRegressor(hidden_layer_sizes=(hidden,), alpha=alpha, random_state=seed, learning_rate_init=0.01)
    os.makedirs(os.path.dirname(os.path.abspath(metrics_file)), exist_ok=True)
    with open(metrics_file, "a", encoding="utf-8") as metrics, warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        for epoch in range(1, epochs + 1):
            model.partial_fit(x, y)
            val = mse(y_test, model.predict(x_test)) if x_test is not None else None
            line = {"step": epoch, "loss": mse(y, model.predict(x)), "val_loss": val, "ts": time.time()}
            metrics.write(json.dumps(line) + "\n")
            metrics.flush()
    state = {
        "model": NAME,
        "features": FEATURES,
        "label": LABEL,
        "scaler_mean": scaler.mean_.tolist(),
        "scaler_scale": scaler.scale_.tolist(),
        "coefs": [w.tolist() for w in model.coefs_],
        "intercepts": [b.tolist() for b in model.intercepts_],
        "params": {"l2_regularization": alpha, "epochs": epochs, "hidden_units": hidden, "seed": seed},
        "train_rows": int(len(x)),
        "loss": mse(y, model.predict(x)),
    }
    write_json_atomically(os.path.join(checkpoint_dir, "ckpt-%d.json" % epochs), state)
    write_json_atomically(os.path.join(output_dir, "model.json"), state)
    log("done: train mse %.4g" % state["loss"])
    return 0


def evaluate(args):
    """Scores a model on the held-out rows (split = "test"): the champion and the challenger alike."""
    state = load_state(args.model)
    frame = read_frame(args.data, ["split", LABEL] + state["features"])
    held_out = frame[frame["split"] == "test"]
    y = held_out[LABEL].to_numpy(dtype=float)
    p = forward(state, held_out[state["features"]].to_numpy(dtype=float)) if len(held_out) else np.array([])
    total = float(np.sum((y - y.mean()) ** 2)) if len(y) else 0.0
    r2 = 1 - float(np.sum((y - p) ** 2)) / total if total > 0 else None
    result = {"model": NAME, "rows": int(len(held_out)), "mse": mse(y, p), "r2": r2}
    print(json.dumps(result), flush=True)
    if args.out:
        write_json_atomically(args.out, result)
    return 0 if len(held_out) else 2


def predict(args):
    state = load_state(args.model)
    frame = read_frame(args.data, [ID] + state["features"])
    p = forward(state, frame[state["features"]].to_numpy(dtype=float))
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    with open(args.out, "w", encoding="utf-8") as out:
        for record_id, value in zip(frame[ID].tolist(), p.tolist()):
            out.write(json.dumps({ID: record_id, "prediction": value}) + "\n")
    log("wrote %d predictions to %s" % (len(frame), args.out))
    return 0


def main(argv=None):
    commands = {
        "train": (train, None, ["data"]),
        "evaluate": (evaluate, None, ["model", "data", "out?"]),
        "predict": (predict, None, ["model", "data", "out"]),
    }
    return subcommands(NAME, __doc__.split("\n")[0], commands, argv)


if __name__ == "__main__":
    sys.exit(main())
