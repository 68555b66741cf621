-- Quality training rows: the labelled met areas and days (quality_labels.sql) with their features
-- (quality_features.sql). Label target_ratio; split says train or validation.
-- Tables: {{labels}}, {{features}}.
SELECT f.*, l.split, l.target_ratio
FROM {{labels}} AS l
JOIN {{features}} AS f ON f.met_area = l.met_area AND f.day = l.day
