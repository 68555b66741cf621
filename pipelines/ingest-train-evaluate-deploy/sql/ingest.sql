-- Ingest: the staging records that had arrived by the cutoff, with a fixed held-out split, so the same
-- cutoff always gives the same rows and every model (deployed or new) is scored on the same records.
-- A record is held out ("test") when its hashed id falls under @holdout_percent (seed 003: 20 %).
-- Parameters: @cutoff DATE, @holdout_percent INT64. Tables: {{records}}.
SELECT
  record_id,
  CASE WHEN MOD(record_id * 7919 + 13, 100) < @holdout_percent THEN 'test' ELSE 'train' END AS split,
  crim, zn, indus, chas, nox, rm, age, dis, rad, tax, ptratio, b, lstat,
  target
FROM {{records}}
WHERE loaded_at <= @cutoff AND target IS NOT NULL
