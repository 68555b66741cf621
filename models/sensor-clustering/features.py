"""Sensor feature model (seed 001's feature creation): one day of one sensor's readings → one row.

Input rows (NDJSON): sensor_id, date, hour (0–24, fractional), temperature, humidity, sound.
Output rows (NDJSON): date, sensor_id, rows and FEATURES, one per (date, sensor_id) in the input.

Usage: python3 sensor-clustering/features.py featurize --data readings.ndjson --out features.ndjson

The feature model is this program at the commit the plan pinned: its version is the commit, so a
changed feature definition changes the features step's cache key and recomputes every sensor.
"""
import json
import os
import sys

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from cli import subcommands  # noqa: E402
from retrainer_model import read_rows, require_columns, write_json_atomically  # noqa: E402,F401

READING_COLUMNS = ["sensor_id", "date", "hour", "temperature", "humidity", "sound"]
FEATURES = [
    "temp_mean",
    "temp_std",
    "temp_range",
    "temp_day_night",
    "humidity_mean",
    "humidity_std",
    "sound_mean",
    "sound_std",
    "sound_day_night",
    "temp_humidity_corr",
]
DAY = (9.0, 18.0)
NIGHT = (0.0, 6.0)


def _window_mean(hours, values, window):
    mask = (hours >= window[0]) & (hours < window[1])
    return float(values[mask].mean()) if mask.any() else float(values.mean())


def featurize_group(rows):
    """Features of one sensor-day; a constant series has std 0 and correlation 0 (never NaN)."""
    hours = np.array([float(r["hour"]) for r in rows])
    temp = np.array([float(r["temperature"]) for r in rows])
    hum = np.array([float(r["humidity"]) for r in rows])
    sound = np.array([float(r["sound"]) for r in rows])
    corr = 0.0
    if len(rows) > 1 and temp.std() > 0 and hum.std() > 0:
        corr = float(np.corrcoef(temp, hum)[0, 1])
    return {
        "temp_mean": float(temp.mean()),
        "temp_std": float(temp.std()),
        "temp_range": float(temp.max() - temp.min()),
        "temp_day_night": _window_mean(hours, temp, DAY) - _window_mean(hours, temp, NIGHT),
        "humidity_mean": float(hum.mean()),
        "humidity_std": float(hum.std()),
        "sound_mean": float(sound.mean()),
        "sound_std": float(sound.std()),
        "sound_day_night": _window_mean(hours, sound, DAY) - _window_mean(hours, sound, NIGHT),
        "temp_humidity_corr": corr,
    }


def featurize(args):
    rows = read_rows(args.data)
    require_columns(rows, READING_COLUMNS, args.data)
    groups = {}
    for row in rows:
        groups.setdefault((str(row["date"]), str(row["sensor_id"])), []).append(row)
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    temp = args.out + ".tmp"
    with open(temp, "w", encoding="utf-8") as handle:
        for (date, sensor), group in sorted(groups.items()):
            out = {"date": date, "sensor_id": sensor, "rows": len(group)}
            out.update(featurize_group(group))
            handle.write(json.dumps(out) + "\n")
    os.replace(temp, args.out)
    print(json.dumps({"sensors": len(groups), "rows": len(rows)}), flush=True)
    return 0


def main(argv=None):
    commands = {"featurize": (featurize, "one feature row per (date, sensor_id) of the readings", ["data", "out"])}
    sys.exit(subcommands("sensor-features", __doc__, commands, argv))


if __name__ == "__main__":
    main()
