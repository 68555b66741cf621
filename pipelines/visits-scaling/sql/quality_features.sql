-- Quality features: one row per met area and day from @from to @to (every area, labelled or not), what
-- the model sees of that day's visits. The training rows join these with the labels
-- (quality_data.sql); the predictions for the gap after the cutoff use them as they are.
-- Features match models/quality/train.py.
-- Parameters: @from DATE, @to DATE. Tables: {{pois}}, {{visits}}, {{clusters}}.
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
    WHERE v.day BETWEEN @from AND @to
    GROUP BY v.met_area, v.day
  )
SELECT
  c.met_area,
  c.day,
  COALESCE(x.total, 0) / c.clusters AS ratio_total,
  IF(COALESCE(x.total, 0) > 0, x.near_home / x.total, 0) AS share_near_home,
  IF(COALESCE(x.total, 0) > 0, x.near_work / x.total, 0) AS share_near_work,
  IF(COALESCE(x.total, 0) > 0, x.closed / x.total, 0) AS share_closed,
  IF(EXTRACT(DAYOFWEEK FROM c.day) IN (1, 7), 1, 0) AS weekend
FROM {{clusters}} AS c
LEFT JOIN parts AS x ON x.met_area = c.met_area AND x.day = c.day
WHERE c.day BETWEEN @from AND @to AND c.clusters > 0
