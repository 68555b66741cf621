"""Sensor clustering model (seed 001): KMeans on standardised sensor features, with scikit-learn.

Commands (the training contract of DESIGN.md section 5 for `train`):

  python3 sensor-clustering/cluster.py train    --data $INPUT_DIR/sensor_clustering.ndjson
  python3 sensor-clustering/cluster.py predict  --model model.json --data features.ndjson --out clusters.ndjson
  python3 sensor-clustering/cluster.py evaluate --model model.json --data features.ndjson [--out eval.json]

`train` runs KMeans restarts (one `step` each, `KMEANS_RESTARTS` of them, seeded by `SEED`) and keeps
the best (lowest inertia); every restart appends a metrics line (`loss` = the best inertia per row so
far) and checkpoints the best model, so a resumed training goes on from the next restart and ends
with the model an uninterrupted one would have. The model is JSON (scaling, centres, metrics), never
a pickle: predict is the nearest centre, the same on every machine.

`evaluate` prints {"rows", "mse", "silhouette", "calinski_harabasz", "davies_bouldin", "clusters"}:
mse is the mean squared distance to the assigned centre (what champion/challenger compares; lower is
better); the three clustering metrics are scikit-learn's (null when fewer than 2 clusters are present).
"""
import json
import os
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "lib"))
sys.path.insert(0, HERE)
from cli import subcommands  # noqa: E402
from features import FEATURES  # noqa: E402
from retrainer_model import (  # noqa: E402
    env_float,
    read_rows,
    require_columns,
    resume_path,
    write_json_atomically,
)

CHECKPOINT_PREFIX = "ckpt-"


def log(message):
    print("[%s] %s" % (time.strftime("%H:%M:%S"), message), flush=True)


def matrix(rows, features):
    return np.array([[float(r[f]) for f in features] for r in rows], dtype=float)


def scale(model, xs):
    return (xs - np.array(model["means"])) / np.array(model["scales"])


def assign(model, xs):
    """Nearest centre of each (raw) row and its squared distance, in the model's scaled space."""
    scaled = scale(model, xs)
    centres = np.array(model["centres"])
    distances = ((scaled[:, None, :] - centres[None, :, :]) ** 2).sum(axis=2)
    labels = distances.argmin(axis=1)
    return labels, distances[np.arange(len(labels)), labels]


def clustering_metrics(scaled, labels):
    present = len(set(labels.tolist()))
    if present < 2 or present >= len(labels):
        return {"silhouette": None, "calinski_harabasz": None, "davies_bouldin": None, "clusters": present}
    # Imported here, not at the top: importing scikit-learn (scipy, pandas) costs seconds of CPU, and
    # `predict`, run on every inference, needs numpy only.
    from sklearn.metrics import calinski_harabasz_score, davies_bouldin_score, silhouette_score

    return {
        "silhouette": float(silhouette_score(scaled, labels)),
        "calinski_harabasz": float(calinski_harabasz_score(scaled, labels)),
        "davies_bouldin": float(davies_bouldin_score(scaled, labels)),
        "clusters": present,
    }


def canonical(centres):
    """Centres ordered by their coordinates, so the same clustering gets the same cluster ids."""
    order = sorted(range(len(centres)), key=lambda i: tuple(round(v, 9) for v in centres[i]))
    return [list(map(float, centres[i])) for i in order]


def save_checkpoint(directory, state, keep=3):
    os.makedirs(directory, exist_ok=True)
    write_json_atomically(os.path.join(directory, "%s%08d.json" % (CHECKPOINT_PREFIX, state["step"])), state)
    names = sorted(n for n in os.listdir(directory) if n.startswith(CHECKPOINT_PREFIX) and n.endswith(".json"))
    for old in names[:-keep]:
        os.remove(os.path.join(directory, old))


def train(args):
    from sklearn.cluster import KMeans

    run_dir = os.environ.get("RUN_DIR", os.getcwd())
    checkpoint_dir = os.environ.get("CHECKPOINT_DIR", os.path.join(run_dir, "checkpoints"))
    output_dir = os.environ.get("OUTPUT_DIR", os.path.join(run_dir, "output"))
    metrics_file = os.environ.get("METRICS_FILE", os.path.join(run_dir, "metrics.jsonl"))
    k = int(env_float("CLUSTERS", 4))
    restarts = max(1, int(env_float("KMEANS_RESTARTS", 8)))
    seed = int(env_float("SEED", 7))
    fail_at = int(env_float("FAIL_AT_STEP", -1))
    step_seconds = env_float("STEP_SECONDS", 0.0)

    rows = read_rows(args.data)
    require_columns(rows, FEATURES, args.data)
    if len(rows) <= k:
        log("need more than %d rows to find %d clusters, got %d" % (k, k, len(rows)))
        return 2
    xs = matrix(rows, FEATURES)
    means = xs.mean(axis=0)
    scales = xs.std(axis=0)
    scales[scales == 0] = 1.0
    base = {"kind": "kmeans", "features": FEATURES, "k": k, "means": means.tolist(), "scales": scales.tolist()}
    scaled = (xs - means) / scales

    os.makedirs(os.path.dirname(os.path.abspath(metrics_file)), exist_ok=True)
    best = None
    resume = resume_path(checkpoint_dir)
    if resume:
        with open(resume, encoding="utf-8") as handle:
            best = json.load(handle)
        log("resumed from %s after restart %d" % (resume, best["step"]))
    else:
        log("clustering %d sensor-days into %d clusters (%d restarts)" % (len(rows), k, restarts))
    start = best["step"] + 1 if best else 1
    with open(metrics_file, "a", encoding="utf-8") as metrics:
        for step in range(start, restarts + 1):
            fitted = KMeans(n_clusters=k, n_init=1, random_state=seed + step).fit(scaled)
            inertia = float(fitted.inertia_) / len(rows)
            if best is None or inertia < best["inertia"]:
                best = dict(base, centres=canonical(fitted.cluster_centers_), inertia=inertia, step=step)
            best["step"] = step
            line = {"step": step, "loss": best["inertia"], "val_loss": None, "inertia": inertia, "ts": time.time()}
            metrics.write(json.dumps(line) + "\n")
            metrics.flush()
            save_checkpoint(checkpoint_dir, best)
            if step == fail_at:
                log("injected failure at step %d" % step)
                return 3
            if step_seconds > 0:
                time.sleep(step_seconds)
    labels, _ = assign(best, xs)
    model = dict(best, metrics=clustering_metrics(scaled, labels), trained_rows=len(rows))
    write_json_atomically(os.path.join(output_dir, "model.json"), model)
    log("done: inertia/row %.6g, metrics %s" % (model["inertia"], json.dumps(model["metrics"])))
    return 0


def load_model(path):
    with open(path, encoding="utf-8") as handle:
        model = json.load(handle)
    if model.get("kind") != "kmeans":
        sys.stderr.write("%s is not a sensor clustering model (kind %r)\n" % (path, model.get("kind")))
        sys.exit(2)
    return model


def predict(args):
    model = load_model(args.model)
    rows = read_rows(args.data)
    require_columns(rows, model["features"] + ["date", "sensor_id"], args.data)
    labels, distances = assign(model, matrix(rows, model["features"])) if rows else ([], [])
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    temp = args.out + ".tmp"
    with open(temp, "w", encoding="utf-8") as handle:
        for row, label, distance in zip(rows, labels, distances):
            out = {"date": row["date"], "sensor_id": row["sensor_id"], "cluster": int(label), "distance": float(distance)}
            handle.write(json.dumps(out) + "\n")
    os.replace(temp, args.out)
    log("assigned %d sensor-days to clusters" % len(rows))
    return 0


def evaluate(args):
    model = load_model(args.model)
    rows = read_rows(args.data)
    require_columns(rows, model["features"], args.data)
    result = {"rows": len(rows), "mse": None, "silhouette": None, "calinski_harabasz": None, "davies_bouldin": None, "clusters": 0}
    if rows:
        xs = matrix(rows, model["features"])
        labels, distances = assign(model, xs)
        result.update(clustering_metrics(scale(model, xs), labels))
        result["mse"] = float(distances.mean())
    print(json.dumps(result), flush=True)
    if args.out:
        write_json_atomically(args.out, result)
    return 0


def main(argv=None):
    commands = {
        "train": (train, "KMeans restarts, keeping the best; resumes from the latest checkpoint", ["data"]),
        "predict": (predict, "the cluster of each feature row", ["model", "data", "out"]),
        "evaluate": (evaluate, "mse and clustering metrics of a model on feature rows (prints JSON)", ["model", "data", "out?"]),
    }
    sys.exit(subcommands("sensor-clustering", __doc__, commands, argv))


if __name__ == "__main__":
    main()
