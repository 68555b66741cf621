-- Real visits rows: one per POI and day from @from to @to, the observed visits with the other three
-- models' predictions as features. With @panel_only the rows are the panel POIs with known real
-- visits (training); without, every POI (predicting poi_visits_scaled, e.g. for the gap fill).
-- Features match models/real-visits/train.py; label real_visits (NULL outside the panel).
-- split = 'validation' for the held-out window (the @holdout_days days up to @cutoff, and later days):
-- the training never fits those rows, evaluate scores champion and challenger on them.
-- Parameters: @from DATE, @to DATE, @panel_only BOOL, @cutoff DATE, @holdout_days INT64. Tables: {{visits}}, {{panel}},
-- {{visits_share_predictions}}, {{quality_predictions}}, {{trend_predictions}}.
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
  COALESCE(s.share, 0) AS visits_share,
  COALESCE(q.quality_ratio, 0) AS quality_ratio,
  COALESCE(t.trend_ratio, 0) AS trend_ratio,
  r.real_visits,
  IF(o.day > DATE_SUB(@cutoff, INTERVAL @holdout_days DAY), 'validation', 'train') AS split
FROM observed AS o
LEFT JOIN {{panel}} AS r ON r.poi_id = o.poi_id AND r.day = o.day
LEFT JOIN {{visits_share_predictions}} AS s ON s.poi_id = o.poi_id
LEFT JOIN {{quality_predictions}} AS q ON q.met_area = o.met_area AND q.day = o.day
LEFT JOIN {{trend_predictions}} AS t ON t.met_area = o.met_area AND t.day = o.day
WHERE NOT @panel_only OR r.real_visits IS NOT NULL
