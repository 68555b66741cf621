-- Gap fill of the production poi_visits_scaled: replaces the rows of the days from @from to @to with
-- the new model's predictions (run-scaled visits), leaving every other day alone. One MERGE, so the
-- production table never misses those days halfway; run it again and it changes nothing.
-- Parameters: @from DATE, @to DATE, @model_version STRING. Tables: {{target}} (production
-- poi_visits_scaled), {{predictions}} (poi_id, met_area, day, real_visits).
MERGE {{target}} AS t
USING (
  SELECT day, poi_id, met_area, real_visits AS visits_scaled
  FROM {{predictions}}
  WHERE day BETWEEN @from AND @to
) AS s
ON t.day = s.day AND t.poi_id = s.poi_id
WHEN MATCHED THEN
  UPDATE SET visits_scaled = s.visits_scaled, model_version = @model_version
WHEN NOT MATCHED BY TARGET THEN
  INSERT (day, poi_id, met_area, visits_scaled, model_version)
  VALUES (s.day, s.poi_id, s.met_area, s.visits_scaled, @model_version)
WHEN NOT MATCHED BY SOURCE AND t.day BETWEEN @from AND @to THEN
  DELETE
