-- Real visits rows of the gap fill: one per POI and day from @from to @to with observed visits, whose
-- features are the promoted models' predictions for that same day (visits share as of the day,
-- quality and trend of the POI's met area on the day). Inner joins: a POI-day without every feature is
-- left out (and counted by the gap fill), never predicted from a 0 stand-in.
-- Features match models/real-visits/train.py.
-- Parameters: @from DATE, @to DATE. Tables: {{visits}}, {{visits_share}} (poi_id, day, share),
-- {{quality}} (met_area, day, quality_ratio), {{trend}} (met_area, day, trend_ratio).
WITH
  observed AS (
    SELECT poi_id, met_area, day, SUM(visits) AS observed
    FROM {{visits}}
    WHERE day BETWEEN @from AND @to
    GROUP BY poi_id, met_area, day
  )
SELECT
  o.poi_id,
  o.met_area,
  o.day,
  o.observed,
  s.share AS visits_share,
  q.quality_ratio,
  t.trend_ratio
FROM observed AS o
JOIN {{visits_share}} AS s ON s.poi_id = o.poi_id AND s.day = o.day
JOIN {{quality}} AS q ON q.met_area = o.met_area AND q.day = o.day
JOIN {{trend}} AS t ON t.met_area = o.met_area AND t.day = o.day
