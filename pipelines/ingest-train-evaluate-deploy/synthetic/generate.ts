import prand from 'pure-rand';
import { addDays } from '../../core/dates';
import type { FEATURES } from '../schema';

export type HousingRecord = { record_id: number; loaded_at: string; target: number } & Record<
  (typeof FEATURES)[number],
  number
>;

export interface HousingOptions {
  seed: number;
  records: number;
  /** First and last day records reach the staging area (spread evenly between them). */
  start: string;
  days: number;
}

export const defaultHousingOptions: HousingOptions = { seed: 3, records: 600, start: '2026-01-01', days: 90 };

/** Seeded draws (Mersenne Twister): the same options give the same records on every machine. */
function randomSource(seed: number) {
  const rng = prand.mersenne(seed);
  const float = () => prand.unsafeUniformIntDistribution(0, 0x7fffffff, rng) / 0x80000000;
  return {
    float,
    between: (from: number, to: number) => from + (to - from) * float(),
    normal: () => Math.sqrt(-2 * Math.log(1 - float())) * Math.cos(2 * Math.PI * float()),
    pick: <T>(items: readonly T[]): T =>
      items[prand.unsafeUniformIntDistribution(0, items.length - 1, rng)] as T,
  };
}

const round = (value: number, digits = 3) => Number(value.toFixed(digits));
const clamp = (value: number, from: number, to: number) => Math.min(to, Math.max(from, value));

/**
 * Boston-housing-like records (the seed's 13 features and `target`, the median home value in $1000s),
 * with the original data's ranges and main relations: more rooms raise the value, a larger lower-status
 * share, pupil/teacher ratio, pollution and crime lower it, the river adds a premium. Noise makes the
 * held-out error of a good model a few (k$)², never zero.
 */
export function generateHousing(options: Partial<HousingOptions> = {}): HousingRecord[] {
  const o = { ...defaultHousingOptions, ...options };
  const r = randomSource(o.seed);
  const records: HousingRecord[] = [];
  for (let i = 0; i < o.records; i++) {
    const industrial = r.between(0.5, 27.7);
    const crim = clamp(Math.exp(-1.3 + 1.7 * r.normal()), 0.006, 89);
    const nox = clamp(0.38 + (0.45 * industrial) / 27.7 + 0.05 * r.normal(), 0.385, 0.871);
    const rm = clamp(6.28 + 0.7 * r.normal(), 3.56, 8.78);
    const age = clamp(100 * (1 - r.float() ** 2), 2.9, 100);
    const dis = clamp(1.13 + 10 * (1 - age / 100) ** 1.5 + 0.8 * r.float(), 1.13, 12.1);
    const rad = r.pick([1, 2, 3, 4, 4, 5, 5, 6, 7, 8, 24, 24]);
    const tax = rad === 24 ? 666 : round(r.between(187, 469), 0);
    const ptratio = rad === 24 ? 20.2 : round(r.between(12.6, 22), 1);
    const chas = r.float() < 0.07 ? 1 : 0;
    const zn = r.float() < 0.73 ? 0 : r.pick([12.5, 20, 25, 30, 40, 80]);
    const b = r.float() < 0.8 ? 396.9 : round(r.between(0.3, 396), 2);
    const lstat = clamp(12.65 - 6 * (rm - 6.28) + 0.08 * (age - 68) + 4 * r.normal(), 1.73, 37.97);
    const target = clamp(
      22.5 +
        6.5 * (rm - 6.28) -
        0.55 * (lstat - 12.65) -
        0.8 * (ptratio - 18.5) -
        9 * (nox - 0.55) -
        0.25 * Math.sqrt(crim) +
        3 * chas +
        2.5 * r.normal(),
      5,
      50,
    );
    records.push({
      record_id: i + 1,
      loaded_at: addDays(o.start, Math.floor((i * o.days) / o.records)),
      crim: round(crim, 5),
      zn,
      indus: round(industrial, 2),
      chas,
      nox: round(nox, 3),
      rm: round(rm, 3),
      age: round(age, 1),
      dis: round(dis, 4),
      rad,
      tax,
      ptratio,
      b,
      lstat: round(lstat, 2),
      target: round(target, 1),
    });
  }
  return records;
}

/** The last day a record arrives: a cutoff on or after it ingests every record. */
export const lastLoadDay = (options: Partial<HousingOptions> = {}): string => {
  const o = { ...defaultHousingOptions, ...options };
  return addDays(o.start, Math.floor(((o.records - 1) * o.days) / o.records));
};
