"""Command lines of the model programs.

`subcommands` parses the subcommands every program takes (`train --data`, `predict --model --data
--out`, `evaluate --model --data [--out]`, `featurize --data --out`) and runs one; `main` is the whole
command line of the example (linear) models, with their `train`, `predict` and `evaluate`.
"""
import argparse
import json
import os
import sys
import time

from retrainer_model import (
    LinearModel,
    env_float,
    read_rows,
    require_columns,
    resume_path,
    save_checkpoint,
    split_rows,
    write_json_atomically,
    write_predictions,
)


def log(message):
    print("[%s] %s" % (time.strftime("%H:%M:%S"), message), flush=True)


def train(spec, args):
    run_dir = os.environ.get("RUN_DIR", os.getcwd())
    checkpoint_dir = os.environ.get("CHECKPOINT_DIR", os.path.join(run_dir, "checkpoints"))
    output_dir = os.environ.get("OUTPUT_DIR", os.path.join(run_dir, "output"))
    metrics_file = os.environ.get("METRICS_FILE", os.path.join(run_dir, "metrics.jsonl"))
    seconds = env_float("TRAIN_SECONDS", 5.0)
    # A total, not per attempt: a resumed run stops at the same step an uninterrupted one would.
    max_steps = int(env_float("TRAIN_STEPS", 100000))
    learning_rate = env_float("LEARNING_RATE", 0.05)
    l2 = env_float("L2", 0.001)
    checkpoint_every = max(1, int(env_float("CHECKPOINT_EVERY", 25)))
    metrics_every = max(1, int(env_float("METRICS_EVERY", 5)))
    keep = max(1, int(env_float("KEEP_CHECKPOINTS", 3)))
    fail_at = int(env_float("FAIL_AT_STEP", -1))

    rows = read_rows(args.data)
    require_columns(rows, spec["features"] + [spec["label"]], args.data)
    train_rows, val_rows = split_rows(rows)
    if not train_rows:
        log("no training rows in %s" % args.data)
        return 2
    resume = resume_path(checkpoint_dir)
    if resume:
        with open(resume, encoding="utf-8") as handle:
            model = LinearModel(spec["features"], spec["label"], json.load(handle))
        log("resumed from %s at step %d" % (resume, model.step))
    else:
        model = LinearModel(spec["features"], spec["label"])
        model.fit_scaling(train_rows)
        log("training %s on %d rows (%d validation), features %s" % (spec["name"], len(train_rows), len(val_rows), spec["features"]))
    xs, ys = model.encode(train_rows), [float(r[spec["label"]]) for r in train_rows]
    val_xs, val_ys = model.encode(val_rows), [float(r[spec["label"]]) for r in val_rows]

    os.makedirs(checkpoint_dir, exist_ok=True)
    started = time.time()
    with open(metrics_file, "a", encoding="utf-8") as metrics:
        while model.step < max_steps and time.time() - started < seconds:
            model.gradient_step(xs, ys, learning_rate, l2)
            if model.step == fail_at:
                save_checkpoint(checkpoint_dir, model, keep)
                log("injected failure at step %d" % model.step)
                return 3
            if model.step % metrics_every == 0:
                line = {"step": model.step, "loss": model.loss(xs, ys), "val_loss": model.loss(val_xs, val_ys), "ts": time.time()}
                metrics.write(json.dumps(line) + "\n")
                metrics.flush()
            if model.step % checkpoint_every == 0:
                save_checkpoint(checkpoint_dir, model, keep)
    save_checkpoint(checkpoint_dir, model, keep)
    final = dict(model.state(), model=spec["name"], loss=model.loss(xs, ys), val_loss=model.loss(val_xs, val_ys))
    write_json_atomically(os.path.join(output_dir, "model.json"), final)
    log("done at step %d: loss %.6g, val_loss %s" % (model.step, final["loss"], final["val_loss"]))
    if args.predict_data:
        predict_rows = read_rows(args.predict_data)
        require_columns(predict_rows, spec["features"] + spec["id_columns"], args.predict_data)
        out = os.path.join(output_dir, "predictions.ndjson")
        write_predictions(out, model, predict_rows, spec["id_columns"], spec["output"])
        log("wrote %d predictions to %s" % (len(predict_rows), out))
    return 0


def predict(spec, args):
    with open(args.model, encoding="utf-8") as handle:
        state = json.load(handle)
    model = LinearModel(state["features"], state["label"], state)
    rows = read_rows(args.data)
    # --keep: more columns copied from each row to its prediction (e.g. the day of a per-day prediction).
    keep = [column for column in args.keep or [] if column not in spec["id_columns"]]
    require_columns(rows, state["features"] + spec["id_columns"] + keep, args.data)
    write_predictions(args.out, model, rows, spec["id_columns"] + keep, spec["output"])
    log("wrote %d predictions to %s" % (len(rows), args.out))
    return 0


def evaluate(spec, args):
    """Mean squared error of a model on labelled rows: champion and challenger are judged the same way."""
    with open(args.model, encoding="utf-8") as handle:
        state = json.load(handle)
    model = LinearModel(state["features"], state["label"], state)
    rows = read_rows(args.data)
    require_columns(rows, state["features"] + [state["label"]], args.data)
    rows = [r for r in rows if r.get(state["label"]) is not None]
    xs, ys = model.encode(rows), [float(r[state["label"]]) for r in rows]
    result = {"model": spec["name"], "rows": len(rows), "mse": model.loss(xs, ys)}
    print(json.dumps(result), flush=True)
    if args.out:
        write_json_atomically(args.out, result)
    return 0


def main(spec, argv=None):
    parser = argparse.ArgumentParser(prog=spec["name"], description=spec.get("description"))
    sub = parser.add_subparsers(dest="command", required=True)
    t = sub.add_parser("train", help="train (resuming from the latest checkpoint if there is one)")
    t.add_argument("--data", required=True, help="training rows (NDJSON or CSV); rows with split=validation validate")
    t.add_argument("--predict-data", help="rows to predict with the final model (written to OUTPUT_DIR/predictions.ndjson)")
    p = sub.add_parser("predict", help="predict with a trained model")
    p.add_argument("--model", required=True)
    p.add_argument("--data", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--keep", action="append", metavar="COLUMN", help="also copy this column of each row to its prediction (repeatable)")
    e = sub.add_parser("evaluate", help="mean squared error of a model on labelled rows (prints JSON)")
    e.add_argument("--model", required=True)
    e.add_argument("--data", required=True)
    e.add_argument("--out", help="also write the JSON result to this file")
    args = parser.parse_args(argv)
    commands = {"train": train, "predict": predict, "evaluate": evaluate}
    sys.exit(commands[args.command](spec, args))


def subcommands(prog, description, commands, argv=None):
    """Parses `argv` into one of `commands` and returns what its handler returns (the exit code).

    `commands` maps a subcommand to `(handler, help or None, options)`; each option is the name of a
    flag taking a value (`"data"` is `--data`), required unless it ends with `?` (`"out?"`). The
    handler gets the parsed arguments (`args.data`, `args.model`, `args.out`).
    """
    parser = argparse.ArgumentParser(prog=prog, description=description)
    sub = parser.add_subparsers(dest="command", required=True)
    for name, (handler, help_text, options) in commands.items():
        command = sub.add_parser(name, **({"help": help_text} if help_text else {}))
        for option in options:
            command.add_argument("--" + option.rstrip("?"), required=not option.endswith("?"))
        command.set_defaults(handler=handler)
    args = parser.parse_args(argv)
    return args.handler(args)
