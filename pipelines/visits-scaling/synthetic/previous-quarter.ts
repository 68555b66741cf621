import { Rng } from './random';
import { addDays } from '../../core/dates';
import type { SyntheticData } from './generate';
import { MODEL_FEATURES, MODEL_LABELS, type ProductionTable, type Row } from '../schema';

export interface PreviousQuarter {
  /** The previous run's data cutoff: its models and prediction tables stop there. */
  cutoff: string;
  version: string;
  tables: Record<ProductionTable, Row[]>;
  /** Model files (models/lib LinearModel format) of the models in production, by model name. */
  models: Record<keyof typeof MODEL_FEATURES, Record<string, unknown>>;
}

/**
 * What the previous quarter's run left behind: its prediction tables up to its cutoff (a quarter
 * before the data ends), `poi_visits_scaled` kept up to date every day since by the production
 * visits pipeline, and its four models, which the new run's challengers are compared with.
 */
export function previousQuarter(data: SyntheticData, cutoffDaysBeforeEnd = 91): PreviousQuarter {
  const rng = new Rng(data.options.seed + 1);
  const cutoff = addDays(data.end, -Math.min(cutoffDaysBeforeEnd, data.options.days - 1));
  const version = `${cutoff.replaceAll('-', '')}-synthetic`;
  const tables: Record<ProductionTable, Row[]> = {
    visits_share_predictions: [],
    quality_predictions: [],
    trend_predictions: [],
    poi_visits_scaled: [],
  };
  const clusters = new Map(
    data.tables.clusters_daily.map((r) => [`${r.met_area}|${r.day}`, Number(r.clusters)]),
  );
  const observed = new Map<string, number>();
  const areaTotals = new Map<number, number>();
  for (const row of data.tables.poi_visits_daily) {
    const key = `${row.poi_id}|${row.met_area}|${row.day}`;
    observed.set(key, (observed.get(key) ?? 0) + Number(row.visits));
    if (String(row.day) <= cutoff)
      areaTotals.set(Number(row.met_area), (areaTotals.get(Number(row.met_area)) ?? 0) + Number(row.visits));
  }
  const poiTotals = new Map<number, number>();
  for (const [key, visits] of observed) {
    const [poi, area, day] = key.split('|') as [string, string, string];
    if (day <= cutoff) poiTotals.set(Number(poi), (poiTotals.get(Number(poi)) ?? 0) + visits);
    const perCluster = visits / (clusters.get(`${area}|${day}`) ?? 1);
    tables.poi_visits_scaled.push({
      day,
      poi_id: Number(poi),
      met_area: Number(area),
      visits_scaled: Number((perCluster * 1000 * (1 + 0.05 * rng.normal())).toFixed(4)),
      model_version: version,
    });
  }
  for (const poi of data.tables.pois) {
    const total = areaTotals.get(Number(poi.met_area)) || 1;
    tables.visits_share_predictions.push({
      poi_id: Number(poi.poi_id),
      met_area: Number(poi.met_area),
      share: Number(
        (((poiTotals.get(Number(poi.poi_id)) ?? 0) / total) * (1 + 0.1 * rng.normal())).toFixed(6),
      ),
      model_version: version,
    });
  }
  const areaDay = new Map<string, number>();
  for (const [key, visits] of observed) {
    const [, area, day] = key.split('|') as [string, string, string];
    if (day <= cutoff) areaDay.set(`${area}|${day}`, (areaDay.get(`${area}|${day}`) ?? 0) + visits);
  }
  for (const row of data.tables.clusters_daily) {
    if (String(row.day) > cutoff) continue;
    const ratio = (areaDay.get(`${row.met_area}|${row.day}`) ?? 0) / Number(row.clusters);
    const base = { met_area: Number(row.met_area), day: String(row.day) };
    tables.quality_predictions.push({
      ...base,
      quality_ratio: Number((ratio * (1 + 0.1 * rng.normal())).toFixed(6)),
      model_version: version,
    });
    tables.trend_predictions.push({
      ...base,
      trend_ratio: Number((ratio * (1 + 0.05 * rng.normal())).toFixed(6)),
      model_version: version,
    });
  }
  const models = Object.fromEntries(
    (Object.keys(MODEL_FEATURES) as (keyof typeof MODEL_FEATURES)[]).map((name) => {
      const features = [...MODEL_FEATURES[name]];
      return [
        name,
        {
          model: name,
          features,
          label: MODEL_LABELS[name],
          weights: features.map(() => Number((0.1 * rng.normal()).toFixed(6))),
          bias: 0,
          means: features.map(() => 0),
          stds: features.map(() => 1),
          step: 0,
        },
      ];
    }),
  ) as unknown as PreviousQuarter['models'];
  return { cutoff, version, tables, models };
}
