"""Quality: how much of a met area's daily visits/clusters ratio to keep so it is smooth in time.

Labels come from sql/visits-scaling/quality_labels.sql (seed 000: 56-day two-sided weighted moving
average, weekday adjustment, closed and home/work visits left out of the smoothing). Rows with
split = "validation" (met area 11) validate; areas 0, 22, 33, 44, 66, 77 train.
Usage: python3 quality/train.py train --data inputs/quality.ndjson
"""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from cli import main  # noqa: E402

SPEC = {
    "name": "quality",
    "description": __doc__,
    "features": ["ratio_total", "share_near_home", "share_near_work", "share_closed", "weekend"],
    "label": "target_ratio",
    "id_columns": ["met_area", "day"],
    "output": "quality_ratio",
}

if __name__ == "__main__":
    main(SPEC)
