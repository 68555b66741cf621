import prand from 'pure-rand';
import { addDays } from '../../core/dates';

export interface DemandOptions {
  seed: number;
  /** Items sold; one more item stops selling 20 weeks before the end (it gets no forecast). */
  items: number;
  /** First week (a Monday) and number of weeks of history. */
  start: string;
  weeks: number;
  /** Refinement cutoffs: every `cutoffEvery` weeks, the last `cutoffs` of them, the last one `cutoffEvery` weeks before the end. */
  cutoffs: number;
  cutoffEvery: number;
}

export const defaultDemandOptions: DemandOptions = {
  seed: 4,
  items: 4,
  start: '2024-01-01',
  weeks: 130,
  cutoffs: 3,
  cutoffEvery: 4,
};

export interface DemandData {
  sales: { item_id: string; week: string; sales: number }[];
  cutoffs: { cutoff: string }[];
  /** The last week with sales: a run with this cutoff sees every refinement cutoff. */
  lastWeek: string;
}

/**
 * Weekly sales per item as a retailer sees them: a level per item, a slow trend, yearly seasonality
 * (summer or winter products), occasional promotion weeks, noise, rare returns weeks (negative
 * sales); and the cutoffs of the refining brick's runs. Seeded: the same options, the same data.
 */
export function generateDemand(options: Partial<DemandOptions> = {}): DemandData {
  const o = { ...defaultDemandOptions, ...options };
  const rng = prand.mersenne(o.seed);
  const float = () => prand.unsafeUniformIntDistribution(0, 0x7fffffff, rng) / 0x80000000;
  const normal = () => Math.sqrt(-2 * Math.log(1 - float())) * Math.cos(2 * Math.PI * float());
  const sales: DemandData['sales'] = [];
  for (let i = 0; i <= o.items; i++) {
    const discontinued = i === o.items;
    const level = 40 + 160 * float();
    const trend = (float() - 0.3) * 0.004;
    const amplitude = 0.2 + 0.4 * float();
    const phase = float() < 0.5 ? 0 : 26; // summer or winter product
    for (let t = 0; t < o.weeks; t++) {
      if (discontinued && t >= o.weeks - 20) break;
      const seasonal = 1 + amplitude * Math.sin((2 * Math.PI * (t + phase)) / 52);
      const promotion = float() < 0.04 ? 1.8 : 1;
      let value = level * (1 + trend * t) * seasonal * promotion + 0.08 * level * normal();
      if (float() < 0.01) value = -0.1 * level; // a week of returns
      sales.push({
        item_id: `SKU-${String(i + 1).padStart(4, '0')}`,
        week: addDays(o.start, 7 * t),
        sales: Number(value.toFixed(2)),
      });
    }
  }
  const last = o.weeks - 1;
  const cutoffs = Array.from({ length: o.cutoffs }, (_, k) => ({
    cutoff: addDays(o.start, 7 * (last - o.cutoffEvery * (o.cutoffs - k))),
  }));
  return { sales, cutoffs, lastWeek: addDays(o.start, 7 * last) };
}
