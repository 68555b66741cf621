-- Quality labels (seed 000, "Quality"): per metropolitan area and day, the visits/clusters ratio the
-- quality model should make smooth in time.
--
-- * Every visit is counted in visits_total (the model sees them all), but only "smoothable" visits
--   enter the ratio that is smoothed: visits to a location on or after the day it closed, and visits
--   by devices whose home or workplace is near the location, are left out, so the model learns to give
--   those (and visits like them that were not filtered) a low weight.
-- * smoothed_ratio: two-sided weighted moving average over 56 days to each side, triangular weights
--   57 - |offset| (the day itself weighs 57, a day 56 days away weighs 1), renormalised where the window
--   runs past the first day or the cutoff. Written as a self-join on the date range rather than a
--   window frame: the weight depends on each neighbour's distance, which a frame cannot express.
-- * seasonal_adjustment: the area's average ratio on this weekday minus its average ratio over all
--   days; target_ratio = smoothed_ratio + seasonal_adjustment, so the weekly pattern stays in the label.
-- * Met areas 0, 22, 33, 44, 66 and 77 train; 11 validates; other areas are not labelled.
--
-- Parameters: @cutoff DATE (no day after it is read). Tables: {{pois}}, {{visits}}, {{clusters}}.
WITH
  split AS (
    SELECT met_area, IF(met_area = 11, 'validation', 'train') AS split
    FROM UNNEST([0, 22, 33, 44, 66, 77, 11]) AS met_area
  ),
  visits AS (
    SELECT
      v.met_area,
      v.day,
      v.visits,
      NOT (
        (p.closed_on IS NOT NULL AND v.day >= p.closed_on)
        OR COALESCE(v.near_home, FALSE)
        OR COALESCE(v.near_work, FALSE)
      ) AS smoothable
    FROM {{visits}} AS v
    JOIN {{pois}} AS p ON p.poi_id = v.poi_id
    WHERE v.day <= @cutoff
  ),
  daily AS (
    SELECT
      c.met_area,
      c.day,
      c.clusters,
      COALESCE(SUM(v.visits), 0) AS visits_total,
      COALESCE(SUM(IF(v.smoothable, v.visits, 0)), 0) AS visits_smoothable
    FROM {{clusters}} AS c
    JOIN split AS s ON s.met_area = c.met_area
    LEFT JOIN visits AS v ON v.met_area = c.met_area AND v.day = c.day
    WHERE c.day <= @cutoff AND c.clusters > 0
    GROUP BY c.met_area, c.day, c.clusters
  ),
  ratios AS (
    SELECT *, visits_smoothable / clusters AS ratio FROM daily
  ),
  smoothed AS (
    SELECT
      d.met_area,
      d.day,
      SUM((57 - ABS(DATE_DIFF(o.day, d.day, DAY))) * o.ratio)
        / SUM(57 - ABS(DATE_DIFF(o.day, d.day, DAY))) AS smoothed_ratio
    FROM ratios AS d
    JOIN ratios AS o
      ON o.met_area = d.met_area
      AND o.day BETWEEN DATE_SUB(d.day, INTERVAL 56 DAY) AND DATE_ADD(d.day, INTERVAL 56 DAY)
    GROUP BY d.met_area, d.day
  ),
  seasonal AS (
    SELECT
      met_area,
      day,
      AVG(ratio) OVER (PARTITION BY met_area, EXTRACT(DAYOFWEEK FROM day))
        - AVG(ratio) OVER (PARTITION BY met_area) AS seasonal_adjustment
    FROM ratios
  )
SELECT
  r.met_area,
  r.day,
  s.split,
  r.clusters,
  r.visits_total,
  r.visits_smoothable,
  r.ratio,
  m.smoothed_ratio,
  w.seasonal_adjustment,
  m.smoothed_ratio + w.seasonal_adjustment AS target_ratio,
  (m.smoothed_ratio + w.seasonal_adjustment) * r.clusters AS target_visits
FROM ratios AS r
JOIN split AS s ON s.met_area = r.met_area
JOIN smoothed AS m ON m.met_area = r.met_area AND m.day = r.day
JOIN seasonal AS w ON w.met_area = r.met_area AND w.day = r.day
