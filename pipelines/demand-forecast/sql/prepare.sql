-- Data preparation for one cutoff (seed 004's "last refinement", now a step of its own): weekly sales
-- per item up to the cutoff, returns netted (a negative week counts as no sales), items that sold in
-- the @active_days days before the cutoff only (a discontinued item gets no forecast).
-- Parameters: @cutoff_date DATE, @active_days INT64. Tables: {{sales}} (item_id, week, sales).
WITH
  history AS (
    SELECT item_id, week, GREATEST(SUM(sales), 0) AS sales
    FROM {{sales}}
    WHERE week <= @cutoff_date
    GROUP BY item_id, week
  ),
  active AS (
    SELECT DISTINCT item_id
    FROM history
    WHERE DATE_DIFF(@cutoff_date, week, DAY) < @active_days AND sales > 0
  )
SELECT h.item_id, h.week, h.sales
FROM history AS h
JOIN active AS a ON a.item_id = h.item_id
