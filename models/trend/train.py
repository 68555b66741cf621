"""Trend: a met area's visits per cluster over time (slow trend plus weekly cycle).

Input rows: met_area, day, t (days since the series start / 365), dow_sin, dow_cos, ratio (label).
Usage: python3 trend/train.py train --data inputs/trend.ndjson
"""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from cli import main  # noqa: E402

SPEC = {
    "name": "trend",
    "description": __doc__,
    "features": ["t", "dow_sin", "dow_cos"],
    "label": "ratio",
    "id_columns": ["met_area", "day"],
    "output": "trend_ratio",
}

if __name__ == "__main__":
    main(SPEC)
