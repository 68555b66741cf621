-- The whole new poi_visits_scaled of a gap fill, written to a staging table that one copy job then puts
-- in place of the production table (all or nothing): every row of the days outside @from..@to as it
-- is, and the promoted real-visits model's predictions for the days in it (the rows of those days in
-- production are replaced, never merged into).
-- Parameters: @from DATE, @to DATE, @model_version STRING. Tables: {{target}} (production
-- poi_visits_scaled), {{predictions}} (poi_id, met_area, day, real_visits).
SELECT day, poi_id, met_area, visits_scaled, model_version
FROM {{target}}
WHERE day < @from OR day > @to
UNION ALL
SELECT day, poi_id, met_area, CAST(real_visits AS FLOAT64) AS visits_scaled, @model_version AS model_version
FROM {{predictions}}
