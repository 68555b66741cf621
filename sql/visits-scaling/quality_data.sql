-- Quality training rows: one per labelled met area and day (the labels of quality_labels.sql), with
-- what the model sees of that day's visits. Features match models/quality/train.py; label target_ratio.
-- Parameters: @cutoff DATE. Tables: {{labels}} (quality_labels.sql output), {{pois}}, {{visits}}.
WITH
  parts AS (
    SELECT
      v.met_area,
      v.day,
      SUM(v.visits) AS total,
      SUM(IF(v.near_home, v.visits, 0)) AS near_home,
      SUM(IF(v.near_work, v.visits, 0)) AS near_work,
      SUM(IF(p.closed_on IS NOT NULL AND v.day >= p.closed_on, v.visits, 0)) AS closed
    FROM {{visits}} AS v
    JOIN {{pois}} AS p ON p.poi_id = v.poi_id
    WHERE v.day <= @cutoff
    GROUP BY v.met_area, v.day
  )
SELECT
  l.met_area,
  l.day,
  l.split,
  l.visits_total / l.clusters AS ratio_total,
  IF(COALESCE(x.total, 0) > 0, x.near_home / x.total, 0) AS share_near_home,
  IF(COALESCE(x.total, 0) > 0, x.near_work / x.total, 0) AS share_near_work,
  IF(COALESCE(x.total, 0) > 0, x.closed / x.total, 0) AS share_closed,
  IF(EXTRACT(DAYOFWEEK FROM l.day) IN (1, 7), 1, 0) AS weekend,
  l.target_ratio
FROM {{labels}} AS l
LEFT JOIN parts AS x ON x.met_area = l.met_area AND x.day = l.day
