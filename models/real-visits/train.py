"""Real visits: a POI's true daily visits, from the observed visits scaled by the three other models.

Trained on the panel of POIs whose real counts are known. Input rows: poi_id, day, observed,
visits_share, quality_ratio, trend_ratio, real_visits (label).
Usage: python3 real-visits/train.py train --data inputs/real_visits.ndjson
"""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from cli import main  # noqa: E402

SPEC = {
    "name": "real_visits",
    "description": __doc__,
    "features": ["observed", "visits_share", "quality_ratio", "trend_ratio"],
    "label": "real_visits",
    "id_columns": ["poi_id", "met_area", "day"],
    "output": "real_visits",
}

if __name__ == "__main__":
    main(SPEC)
