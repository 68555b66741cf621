-- Visits share features for the gap fill, as of each day: one row per POI open on each day from @from
-- to @to that the source has visits for (the days the fill predicts), with the features as of that day.
-- No label: these rows are only predicted. Features match models/visits-share/train.py (as
-- visits_share_data.sql computes them for one as-of day).
-- Parameters: @from DATE, @to DATE. Tables: {{pois}}, {{visits}}.
WITH
  days AS (
    SELECT DISTINCT day FROM {{visits}} WHERE day BETWEEN @from AND @to
  ),
  open_pois AS (
    SELECT d.day, p.poi_id, p.met_area, p.category, p.opened_on, p.closed_on
    FROM days AS d
    JOIN {{pois}} AS p ON p.opened_on <= d.day
  ),
  areas AS (
    SELECT day, met_area, COUNT(*) AS pois FROM open_pois GROUP BY day, met_area
  )
SELECT
  p.poi_id,
  p.met_area,
  p.day,
  LN(1 + DATE_DIFF(p.day, p.opened_on, DAY)) AS log_days_open,
  IF(p.closed_on IS NOT NULL AND p.closed_on <= p.day, 1, 0) AS closed,
  IF(p.category = 'retail', 1, 0) AS category_retail,
  IF(p.category = 'food', 1, 0) AS category_food,
  IF(p.category = 'leisure', 1, 0) AS category_leisure,
  LN(a.pois) AS log_area_pois
FROM open_pois AS p
JOIN areas AS a ON a.day = p.day AND a.met_area = p.met_area
