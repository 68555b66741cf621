-- Trend rows: one per met area and day from @from to @to, the observed visits per cluster with time
-- features. Training uses days up to the cutoff; the gap fill asks for the days after it (the label
-- is then only informative). split = 'validation' for the held-out window, the @holdout_days days up to
-- @cutoff (and the days after it): the training never fits them, evaluate scores on them.
-- Features match models/trend/train.py; label ratio.
-- Parameters: @from DATE, @to DATE, @origin DATE (day t = 0; keep it fixed across runs), @cutoff DATE,
-- @holdout_days INT64. Tables: {{visits}}, {{clusters}}.
WITH
  daily AS (
    SELECT met_area, day, SUM(visits) AS visits FROM {{visits}} WHERE day BETWEEN @from AND @to GROUP BY met_area, day
  )
SELECT
  c.met_area,
  c.day,
  DATE_DIFF(c.day, @origin, DAY) / 365 AS t,
  SIN(2 * ACOS(-1) * EXTRACT(DAYOFWEEK FROM c.day) / 7) AS dow_sin,
  COS(2 * ACOS(-1) * EXTRACT(DAYOFWEEK FROM c.day) / 7) AS dow_cos,
  COALESCE(d.visits, 0) / c.clusters AS ratio,
  IF(c.day > DATE_SUB(@cutoff, INTERVAL @holdout_days DAY), 'validation', 'train') AS split
FROM {{clusters}} AS c
LEFT JOIN daily AS d ON d.met_area = c.met_area AND d.day = c.day
WHERE c.day BETWEEN @from AND @to AND c.clusters > 0
