"""A small, dependency-free linear model trainer shared by the example models.

It follows Retrainer's training contract (DESIGN.md section 5): metrics as JSON lines in
$METRICS_FILE ({"step", "loss", "val_loss", "ts"}), checkpoints under $CHECKPOINT_DIR, the final
model in $OUTPUT_DIR/model.json. It resumes from $RESUME_FROM, or else from the latest checkpoint in
$CHECKPOINT_DIR, so a crashed or preempted run continues where it stopped.

Plain Python 3 (no numpy) so a VM needs nothing installed: ridge regression on standardised
features by full-batch gradient descent, deterministic for the same data.

Knobs (environment): TRAIN_SECONDS (wall-clock budget, default 5), TRAIN_STEPS (total step budget,
default 100000), LEARNING_RATE (0.05), L2 (0.001), CHECKPOINT_EVERY (steps, 25),
METRICS_EVERY (steps, 5), KEEP_CHECKPOINTS (3), FAIL_AT_STEP (exit 3 there: fault injection).
"""
import csv
import json
import math
import os
import sys
import time

CHECKPOINT_PREFIX = "ckpt-"


def env_float(name, default):
    value = os.environ.get(name, "")
    return float(value) if value else default


def read_rows(path):
    """Rows of an NDJSON (.ndjson/.jsonl/.json) or CSV file, as dicts."""
    with open(path, encoding="utf-8") as handle:
        if path.endswith(".csv"):
            return [dict(row) for row in csv.DictReader(handle)]
        return [json.loads(line) for line in handle if line.strip()]


def require_columns(rows, columns, path):
    """Exits with code 2 naming the columns the file lacks: training on zeros would hide a renamed column."""
    missing = [c for c in columns if rows and c not in rows[0]]
    if missing:
        sys.stderr.write("%s lacks column(s) %s (has %s)\n" % (path, ", ".join(missing), ", ".join(sorted(rows[0]))))
        sys.exit(2)


def write_json_atomically(path, value):
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    temp = "%s.tmp-%d" % (path, os.getpid())
    with open(temp, "w", encoding="utf-8") as handle:
        json.dump(value, handle)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temp, path)


def number(value):
    if value is None or value == "":
        return 0.0
    if isinstance(value, bool):
        return 1.0 if value else 0.0
    if value in ("true", "false"):
        return 1.0 if value == "true" else 0.0
    return float(value)


class LinearModel:
    """y = b + sum(w_i * (x_i - mean_i) / std_i), trained on mean squared error plus an L2 penalty."""

    def __init__(self, features, label, state=None):
        self.features = list(features)
        self.label = label
        state = state or {}
        self.weights = state.get("weights", [0.0] * len(self.features))
        self.bias = state.get("bias", 0.0)
        self.means = state.get("means")
        self.stds = state.get("stds")
        self.step = state.get("step", 0)

    def fit_scaling(self, rows):
        n = max(len(rows), 1)
        self.means = [sum(number(r.get(f)) for r in rows) / n for f in self.features]
        self.stds = []
        for i, f in enumerate(self.features):
            var = sum((number(r.get(f)) - self.means[i]) ** 2 for r in rows) / n
            self.stds.append(math.sqrt(var) or 1.0)

    def encode(self, rows):
        return [[(number(r.get(f)) - self.means[i]) / self.stds[i] for i, f in enumerate(self.features)] for r in rows]

    def predict_encoded(self, xs):
        return [self.bias + sum(w * x for w, x in zip(self.weights, row)) for row in xs]

    def predict(self, rows):
        return self.predict_encoded(self.encode(rows))

    def loss(self, xs, ys):
        if not xs:
            return None
        predictions = self.predict_encoded(xs)
        return sum((p - y) ** 2 for p, y in zip(predictions, ys)) / len(xs)

    def gradient_step(self, xs, ys, learning_rate, l2):
        n = len(xs)
        errors = [p - y for p, y in zip(self.predict_encoded(xs), ys)]
        for i in range(len(self.weights)):
            grad = 2.0 * sum(e * row[i] for e, row in zip(errors, xs)) / n + 2.0 * l2 * self.weights[i]
            self.weights[i] -= learning_rate * grad
        self.bias -= learning_rate * 2.0 * sum(errors) / n
        self.step += 1

    def state(self):
        return {
            "features": self.features,
            "label": self.label,
            "weights": self.weights,
            "bias": self.bias,
            "means": self.means,
            "stds": self.stds,
            "step": self.step,
        }


def latest_checkpoint(directory):
    if not os.path.isdir(directory):
        return None
    names = sorted(n for n in os.listdir(directory) if n.startswith(CHECKPOINT_PREFIX) and n.endswith(".json"))
    return os.path.join(directory, names[-1]) if names else None


def resume_path(checkpoint_dir):
    """$RESUME_FROM (a checkpoint file, or a folder holding checkpoints) wins over our own checkpoints."""
    given = os.environ.get("RESUME_FROM", "")
    if given:
        return latest_checkpoint(given) if os.path.isdir(given) else given
    return latest_checkpoint(checkpoint_dir)


def save_checkpoint(directory, model, keep):
    path = os.path.join(directory, "%s%08d.json" % (CHECKPOINT_PREFIX, model.step))
    write_json_atomically(path, model.state())
    names = sorted(n for n in os.listdir(directory) if n.startswith(CHECKPOINT_PREFIX) and n.endswith(".json"))
    for old in names[:-keep]:
        os.remove(os.path.join(directory, old))
    return path


def split_rows(rows):
    """Validation rows: `split == "validation"` when the data says so, else every fifth row."""
    if any("split" in r for r in rows):
        train = [r for r in rows if r.get("split") != "validation"]
        return train, [r for r in rows if r.get("split") == "validation"]
    return [r for i, r in enumerate(rows) if i % 5 != 4], [r for i, r in enumerate(rows) if i % 5 == 4]


def write_predictions(path, model, rows, id_columns, output_column):
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    temp = path + ".tmp"
    with open(temp, "w", encoding="utf-8") as handle:
        for row, value in zip(rows, model.predict(rows)):
            out = {column: row.get(column) for column in id_columns}
            out[output_column] = value
            handle.write(json.dumps(out) + "\n")
    os.replace(temp, path)
