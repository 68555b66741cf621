-- Visits share training rows: one per POI open at the cutoff. Label: the POI's share of its met area's
-- observed visits over the 90 days up to @cutoff. Features match models/visits-share/train.py.
-- Parameters: @cutoff DATE. Tables: {{pois}}, {{visits}}.
WITH
  recent AS (
    SELECT poi_id, SUM(visits) AS visits
    FROM {{visits}}
    WHERE day BETWEEN DATE_SUB(@cutoff, INTERVAL 89 DAY) AND @cutoff
    GROUP BY poi_id
  ),
  open_pois AS (
    SELECT p.*, COALESCE(r.visits, 0) AS visits
    FROM {{pois}} AS p
    LEFT JOIN recent AS r ON r.poi_id = p.poi_id
    WHERE p.opened_on <= @cutoff
  ),
  areas AS (
    SELECT met_area, SUM(visits) AS visits, COUNT(*) AS pois FROM open_pois GROUP BY met_area
  )
SELECT
  p.poi_id,
  p.met_area,
  LN(1 + DATE_DIFF(@cutoff, p.opened_on, DAY)) AS log_days_open,
  IF(p.closed_on IS NOT NULL AND p.closed_on <= @cutoff, 1, 0) AS closed,
  IF(p.category = 'retail', 1, 0) AS category_retail,
  IF(p.category = 'food', 1, 0) AS category_food,
  IF(p.category = 'leisure', 1, 0) AS category_leisure,
  LN(a.pois) AS log_area_pois,
  IF(a.visits > 0, p.visits / a.visits, 0) AS share
FROM open_pois AS p
JOIN areas AS a ON a.met_area = p.met_area
