import { Rng } from './random';
import { addDays } from '../../core/dates';
import type { Row, SourceTable } from '../schema';

export interface SyntheticOptions {
  seed: number;
  /** Metropolitan area ids (0–77); the seed's quality areas are 0, 11, 22, 33, 44, 66, 77. */
  metAreas: number[];
  poisPerArea: number;
  /** First day of data (YYYY-MM-DD) and number of days. */
  start: string;
  days: number;
  /** Share of POIs closed at some day in the period. */
  closedFraction: number;
  /** Share of POIs whose real visits are known (the real-visits model's ground truth). */
  panelFraction: number;
}

export const defaultSyntheticOptions: SyntheticOptions = {
  seed: 42,
  metAreas: Array.from({ length: 78 }, (_, i) => i),
  poisPerArea: 4,
  start: '2026-01-01',
  days: 182,
  closedFraction: 0.08,
  panelFraction: 0.2,
};

const categories = ['retail', 'food', 'leisure', 'services'] as const;
type Category = (typeof categories)[number];
/** Visits by weekday (0 = Sunday … 6 = Saturday) relative to the average, per category. */
const weekly: Record<Category, number[]> = {
  retail: [0.7, 0.9, 0.95, 0.95, 1.0, 1.15, 1.35],
  food: [1.2, 0.85, 0.85, 0.9, 0.95, 1.1, 1.15],
  leisure: [1.4, 0.7, 0.7, 0.75, 0.85, 1.1, 1.5],
  services: [0.3, 1.2, 1.2, 1.2, 1.2, 1.2, 0.7],
};

export interface SyntheticData {
  options: SyntheticOptions;
  tables: Record<SourceTable, Row[]>;
  /** Last day of data. */
  end: string;
}

/**
 * The local warehouse's source tables, deterministic by seed. What makes scaling necessary is built
 * in: each area's device panel (hence clusters and observed visits) drifts over time and differs by
 * area, visits follow weekly patterns by category with noise, devices living or working next to a
 * POI inflate its counts, and closed POIs keep a trickle of spurious visits.
 */
export function generateSynthetic(partial: Partial<SyntheticOptions> = {}): SyntheticData {
  const options = { ...defaultSyntheticOptions, ...partial };
  const rng = new Rng(options.seed);
  const tables: Record<SourceTable, Row[]> = {
    pois: [],
    poi_visits_daily: [],
    clusters_daily: [],
    real_visits_panel: [],
  };
  const startDow = new Date(`${options.start}T00:00:00Z`).getUTCDay();

  for (const area of options.metAreas) {
    const size = 0.5 + rng.float();
    const panelRate = 0.02 + 0.04 * rng.float();
    const panelGrowth = 0.1 + 0.4 * rng.float();
    const center = { lat: -40 + 80 * rng.float(), lon: -120 + 240 * rng.float() };
    const rate = (d: number) => panelRate * (1 + (panelGrowth * d) / 365);

    const pois = Array.from({ length: options.poisPerArea }, (_, i) => {
      const category = rng.pick(categories);
      const openedDay = rng.float() < 0.1 ? rng.int(0, Math.floor(options.days / 2)) : -rng.int(30, 3000);
      const closedDay = rng.float() < options.closedFraction ? rng.int(1, options.days - 1) : null;
      const poi = {
        poi_id: area * 10_000 + i,
        met_area: area,
        category,
        latitude: Number((center.lat + rng.normal() * 0.05).toFixed(6)),
        longitude: Number((center.lon + rng.normal() * 0.05).toFixed(6)),
        opened_on: addDays(options.start, openedDay),
        closed: closedDay !== null,
        closed_on: closedDay === null ? null : addDays(options.start, closedDay),
      };
      tables.pois.push(poi);
      return {
        ...poi,
        openedDay,
        closedDay,
        popularity: Math.exp(1.5 + 0.7 * rng.normal()) * size,
        homeShare: 0.03 + 0.1 * rng.float(),
        workShare: 0.02 + 0.08 * rng.float(),
        panel: rng.float() < options.panelFraction,
      };
    });

    for (let d = 0; d < options.days; d++) {
      const day = addDays(options.start, d);
      const dow = (startDow + d) % 7;
      const season = 1 + 0.1 * Math.sin((2 * Math.PI * d) / 365);
      const clusters = Math.max(1, Math.round(((1000 * size * rate(d)) / 0.04) * (1 + 0.05 * rng.normal())));
      tables.clusters_daily.push({ day, met_area: area, clusters });
      for (const poi of pois) {
        if (d < poi.openedDay) continue;
        const open = poi.closedDay === null || d < poi.closedDay;
        const real = open
          ? rng.count(poi.popularity * 20 * (weekly[poi.category][dow] as number) * season)
          : 0;
        if (poi.panel) tables.real_visits_panel.push({ day, poi_id: poi.poi_id, real_visits: real });
        // A closed POI still collects a few spurious visits (GPS noise), which quality must learn to drop.
        const observed = open ? rng.count((real * rate(d)) / 0.04) : rng.int(0, 2);
        const home = Math.min(observed, rng.count(observed * poi.homeShare));
        const work = Math.min(observed - home, rng.count(observed * poi.workShare));
        const parts: [boolean, boolean, number][] = [
          [false, false, observed - home - work],
          [true, false, home],
          [false, true, work],
        ];
        for (const [nearHome, nearWork, visits] of parts) {
          if (visits > 0) {
            tables.poi_visits_daily.push({
              day,
              poi_id: poi.poi_id,
              met_area: area,
              near_home: nearHome,
              near_work: nearWork,
              visits,
            });
          }
        }
      }
    }
  }
  return { options, tables, end: addDays(options.start, options.days - 1) };
}
