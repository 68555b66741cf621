"""Visits share: a POI's share of its metropolitan area's visits, from POI features.

Input rows (sql/visits-scaling/visits_share_data.sql): poi_id, met_area, share (label), and the
features below. Usage: python3 visits-share/train.py train --data inputs/visits_share.ndjson
"""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from cli import main  # noqa: E402

SPEC = {
    "name": "visits_share",
    "description": __doc__,
    "features": ["log_days_open", "closed", "category_retail", "category_food", "category_leisure", "log_area_pois"],
    "label": "share",
    "id_columns": ["poi_id", "met_area"],
    "output": "share",
}

if __name__ == "__main__":
    main(SPEC)
