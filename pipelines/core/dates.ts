const DAY_MS = 86_400_000;

/** `YYYY-MM-DD` plus `n` days (UTC), e.g. the first day after a cutoff. */
export const addDays = (day: string, n: number): string =>
  new Date(Date.parse(`${day}T00:00:00Z`) + n * DAY_MS).toISOString().slice(0, 10);
