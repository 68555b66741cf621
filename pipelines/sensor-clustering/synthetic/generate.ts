import { Rng } from '../../visits-scaling/synthetic/random';
import { addDays } from '../../core/dates';

/**
 * Behaviour of a beehive sensor's day (seed 001 is BeeHero's hive sensors): a strong colony holds
 * its brood at ~35 °C and hums all day; a weak one drifts with the weather; a queenless one roars
 * day and night; an empty box follows the outside air in silence.
 */
export const PROFILES = ['strong', 'weak', 'queenless', 'empty'] as const;
export type Profile = (typeof PROFILES)[number];

export interface SensorReading {
  date: string;
  sensor_id: string;
  ts: string;
  hour: number;
  temperature: number;
  humidity: number;
  sound: number;
}

export interface SensorOptions {
  seed: number;
  sensors: number;
  /** First day (YYYY-MM-DD) and number of days. */
  start: string;
  days: number;
  /** Minutes between readings. */
  everyMinutes: number;
}

export const defaultSensorOptions: SensorOptions = {
  seed: 1,
  sensors: 40,
  start: '2026-11-01',
  days: 7,
  everyMinutes: 30,
};

/** Sensor ids `hive-001`…, each with a fixed profile (round robin, so every profile is present). */
export function sensorIds(count: number): { id: string; profile: Profile }[] {
  return Array.from({ length: count }, (_, i) => ({
    id: `hive-${String(i + 1).padStart(3, '0')}`,
    profile: PROFILES[i % PROFILES.length] as Profile,
  }));
}

const round = (value: number, digits = 3) => Math.round(value * 10 ** digits) / 10 ** digits;

/**
 * One sensor's readings for one day, deterministic by (seed, sensor, date): the same partition is
 * regenerated identically, so a re-landed unchanged file leaves the features step cached.
 */
export function sensorDay(
  seed: number,
  sensor: { id: string; profile: Profile },
  date: string,
  everyMinutes = defaultSensorOptions.everyMinutes,
): SensorReading[] {
  const dayIndex = Math.round(Date.parse(`${date}T00:00:00Z`) / 86_400_000);
  const sensorIndex = Number(sensor.id.replace(/\D/g, '')) || 0;
  const rng = new Rng(seed * 1_000_003 + sensorIndex * 7919 + dayIndex);
  const outside = 8 + 6 * Math.sin(dayIndex / 11) + rng.normal();
  const offset = rng.normal() * 0.4;
  const rows: SensorReading[] = [];
  for (let minute = 0; minute < 24 * 60; minute += everyMinutes) {
    const hour = minute / 60;
    const daylight = Math.max(0, Math.sin(((hour - 6) / 12) * Math.PI));
    const air = outside + 7 * daylight;
    let temperature: number;
    let humidity: number;
    let sound: number;
    switch (sensor.profile) {
      case 'strong':
        temperature = 34.8 + offset + 0.3 * rng.normal();
        humidity = 58 + 2 * rng.normal();
        sound = 55 + 15 * daylight + 3 * rng.normal();
        break;
      case 'weak':
        temperature = 0.55 * 34 + 0.45 * air + offset + 0.6 * rng.normal();
        humidity = 70 - 4 * daylight + 3 * rng.normal();
        sound = 30 + 8 * daylight + 3 * rng.normal();
        break;
      case 'queenless':
        temperature = 33 + offset + 0.8 * rng.normal();
        humidity = 54 + 3 * rng.normal();
        sound = 75 + 4 * rng.normal();
        break;
      case 'empty':
        temperature = air + offset + 0.5 * rng.normal();
        humidity = 82 - 15 * daylight + 3 * rng.normal();
        sound = 4 + 2 * Math.abs(rng.normal());
        break;
    }
    rows.push({
      date,
      sensor_id: sensor.id,
      ts: new Date(Date.parse(`${date}T00:00:00Z`) + minute * 60_000).toISOString(),
      hour,
      temperature: round(temperature),
      humidity: round(humidity),
      sound: round(sound),
    });
  }
  return rows;
}

/** Every sensor's readings for every day of the options. */
export function generateReadings(partial: Partial<SensorOptions> = {}): {
  options: SensorOptions;
  dates: string[];
  readings: SensorReading[];
} {
  const options = { ...defaultSensorOptions, ...partial };
  const dates = Array.from({ length: options.days }, (_, i) => addDays(options.start, i));
  const readings = dates.flatMap((date) =>
    sensorIds(options.sensors).flatMap((sensor) =>
      sensorDay(options.seed, sensor, date, options.everyMinutes),
    ),
  );
  return { options, dates, readings };
}
