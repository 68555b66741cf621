"""Demand forecast (seed 004): weekly sales per item, Holt-Winters (statsmodels) per item and cutoff.

Input rows (pipelines/demand-forecast/sql/prepare.sql, one file per cutoff): item_id, week (Monday,
YYYY-MM-DD), sales; only weeks up to the cutoff. Like the seed's Prophet model there is no model
to keep apart from what it predicts: the artifact (`output/model.json`) holds the forecasts of the
next HORIZON weeks per item, with the fitted parameters, and the pipeline writes them to the
warehouse per cutoff.

  python3 demand-forecast/train.py train --data $INPUT_DIR/demand_forecast.ndjson

Knobs (environment): CUTOFF (YYYY-MM-DD, recorded with the forecasts), HORIZON (weeks, 8),
SEASONAL_PERIODS (52: yearly seasonality of weekly data; items with fewer than two seasons of
history get a trend-only model). One JSON line per fitted item goes to $METRICS_FILE (`loss`: the
item's in-sample MSE), so the worker reports the job's progress while it runs.
"""
import json
import os
import sys
import time
import warnings

import numpy as np
import pandas as pd
from statsmodels.tools.sm_exceptions import ConvergenceWarning
from statsmodels.tsa.holtwinters import ExponentialSmoothing

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from cli import subcommands  # noqa: E402

NAME = "demand_forecast"


def log(message):
    print("[%s] %s" % (time.strftime("%H:%M:%S"), message), flush=True)


def write_json_atomically(path, value):
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    temp = "%s.tmp-%d" % (path, os.getpid())
    with open(temp, "w", encoding="utf-8") as handle:
        json.dump(value, handle)
    os.replace(temp, path)


def fit_item(series, horizon, periods):
    """A Holt-Winters fit of one item's weekly sales; damped additive trend, additive seasonality when the history allows."""
    seasonal = "add" if len(series) >= 2 * periods else None
    model = ExponentialSmoothing(
        series,
        trend="add",
        damped_trend=True,
        seasonal=seasonal,
        seasonal_periods=periods if seasonal else None,
        # The heuristic start (two full seasons) is ~10× faster than estimating the initial states.
        initialization_method="heuristic" if seasonal else "estimated",
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        warnings.simplefilter("ignore", RuntimeWarning)
        fit = model.fit(optimized=True, use_brute=False)
    forecast = np.maximum(np.asarray(fit.forecast(horizon), dtype=float), 0.0)
    in_sample = float(np.mean((np.asarray(series, dtype=float) - np.asarray(fit.fittedvalues, dtype=float)) ** 2))
    return forecast, in_sample, ("holt-winters" if seasonal else "damped-trend")


def train(args):
    run_dir = os.environ.get("RUN_DIR", os.getcwd())
    output_dir = os.environ.get("OUTPUT_DIR", os.path.join(run_dir, "output"))
    metrics_file = os.environ.get("METRICS_FILE", os.path.join(run_dir, "metrics.jsonl"))
    horizon = int(os.environ.get("HORIZON") or 8)
    periods = int(os.environ.get("SEASONAL_PERIODS") or 52)
    cutoff = os.environ.get("CUTOFF", "")

    frame = pd.read_json(args.data, lines=True, dtype={"item_id": str, "week": str}) if os.path.getsize(args.data) else pd.DataFrame()
    missing = [c for c in ("item_id", "week", "sales") if c not in frame.columns]
    if missing:
        sys.stderr.write("%s lacks column(s) %s\n" % (args.data, ", ".join(missing)))
        return 2
    frame["week"] = pd.to_datetime(frame["week"].str.slice(0, 10))
    if cutoff:
        frame = frame[frame["week"] <= pd.Timestamp(cutoff)]
    items = sorted(frame["item_id"].unique())
    if not items:
        log("no history up to the cutoff %s in %s" % (cutoff, args.data))
        return 2
    log("forecasting %d items, %d weeks ahead of %s" % (len(items), horizon, cutoff or "the last week"))
    forecasts, fits = [], {}
    os.makedirs(os.path.dirname(os.path.abspath(metrics_file)), exist_ok=True)
    with open(metrics_file, "a", encoding="utf-8") as metrics:
        for step, item in enumerate(items, start=1):
            history = frame[frame["item_id"] == item].sort_values("week")
            # A missing week is a week without sales.
            series = history.set_index("week")["sales"].astype(float).asfreq("W-MON", fill_value=0.0)
            values, in_sample, method = fit_item(series, horizon, periods)
            last = series.index[-1]
            for h, value in enumerate(values, start=1):
                week = (last + pd.Timedelta(weeks=h)).strftime("%Y-%m-%d")
                forecasts.append({"item_id": item, "week": week, "horizon": h, "forecast": round(float(value), 4)})
            fits[item] = {"method": method, "weeks": int(len(series)), "in_sample_mse": in_sample}
            metrics.write(json.dumps({"step": step, "loss": in_sample, "val_loss": None, "ts": time.time()}) + "\n")
            metrics.flush()
    state = {"model": NAME, "cutoff": cutoff, "horizon": horizon, "seasonal_periods": periods, "items": fits, "forecasts": forecasts}
    write_json_atomically(os.path.join(output_dir, "model.json"), state)
    log("done: %d forecasts" % len(forecasts))
    return 0


def main(argv=None):
    return subcommands(NAME, __doc__.split("\n")[0], {"train": (train, None, ["data"])}, argv)


if __name__ == "__main__":
    sys.exit(main())
