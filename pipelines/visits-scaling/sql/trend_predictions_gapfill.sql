-- The whole new trend_predictions of a gap fill, written to a staging table that the fill's one
-- promotion puts in place together with poi_visits_scaled (all or nothing): every row of the days
-- outside @from..@to as it is, and the promoted trend model's predictions for the days in it (the
-- rows production had for those days are replaced, never merged into).
-- Parameters: @from DATE, @to DATE. Tables: {{target}} (production trend_predictions),
-- {{predictions}} (met_area, day, trend_ratio, model_version). Columns in the production order.
SELECT met_area, day, trend_ratio, model_version
FROM {{target}}
WHERE day < @from OR day > @to
UNION ALL
SELECT met_area, day, trend_ratio, model_version
FROM {{predictions}}
