-- Visits share rows: one per POI open at the row's as-of day, in two periods (column split).
-- * 'train': features as of @cutoff - @holdout_days; label: the POI's share of its met area's observed
--   visits over the 90 days up to then.
-- * 'validation' (held out: the training never sees these rows; evaluate scores champion and challenger
--   on them; predict uses them, being every POI as of the cutoff): features as of @cutoff; label: the
--   share over the held-out window, the @holdout_days days up to @cutoff.
-- Features match models/visits-share/train.py.
-- Parameters: @cutoff DATE, @holdout_days INT64 (≥ 1). Tables: {{pois}}, {{visits}}.
WITH
  periods AS (
    SELECT
      'train' AS split,
      DATE_SUB(@cutoff, INTERVAL @holdout_days DAY) AS as_of,
      DATE_SUB(@cutoff, INTERVAL @holdout_days + 89 DAY) AS label_from
    UNION ALL
    SELECT
      'validation' AS split,
      @cutoff AS as_of,
      DATE_SUB(@cutoff, INTERVAL @holdout_days - 1 DAY) AS label_from
  ),
  recent AS (
    SELECT w.split, v.poi_id, SUM(v.visits) AS visits
    FROM periods AS w
    JOIN {{visits}} AS v ON v.day BETWEEN w.label_from AND w.as_of
    GROUP BY w.split, v.poi_id
  ),
  open_pois AS (
    SELECT w.split, w.as_of, p.poi_id, p.met_area, p.category, p.opened_on, p.closed_on,
      COALESCE(r.visits, 0) AS visits
    FROM periods AS w
    JOIN {{pois}} AS p ON p.opened_on <= w.as_of
    LEFT JOIN recent AS r ON r.split = w.split AND r.poi_id = p.poi_id
  ),
  areas AS (
    SELECT split, met_area, SUM(visits) AS visits, COUNT(*) AS pois
    FROM open_pois
    GROUP BY split, met_area
  )
SELECT
  p.poi_id,
  p.met_area,
  p.split,
  LN(1 + DATE_DIFF(p.as_of, p.opened_on, DAY)) AS log_days_open,
  IF(p.closed_on IS NOT NULL AND p.closed_on <= p.as_of, 1, 0) AS closed,
  IF(p.category = 'retail', 1, 0) AS category_retail,
  IF(p.category = 'food', 1, 0) AS category_food,
  IF(p.category = 'leisure', 1, 0) AS category_leisure,
  LN(a.pois) AS log_area_pois,
  IF(a.visits > 0, p.visits / a.visits, 0) AS share
FROM open_pois AS p
JOIN areas AS a ON a.split = p.split AND a.met_area = p.met_area
