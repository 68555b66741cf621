-- Sensor-days of the features dataset between @from and @to: the rows a clustering model trains on.
SELECT *
FROM {{dataset}}
WHERE date BETWEEN @from AND @to
