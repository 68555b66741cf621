import prand from 'pure-rand';

/**
 * A seeded random source (pure-rand's Mersenne Twister, whose seeding spreads small seeds well; xoroshiro's first draws from seeds like 42 are near 1): the same seed gives the same sequence on every
 * machine and Node version, which `Math.random` cannot promise. The generator draws in a fixed order,
 * so the same seed and sizes always give the same rows.
 */
export class Rng {
  private readonly rng: prand.RandomGenerator;

  constructor(seed: number) {
    this.rng = prand.mersenne(seed);
  }

  /** Uniform in [0, 1) with 2^-31 resolution. */
  float(): number {
    return prand.unsafeUniformIntDistribution(0, 0x7fffffff, this.rng) / 0x80000000;
  }

  /** Uniform integer in [from, to]. */
  int(from: number, to: number): number {
    return prand.unsafeUniformIntDistribution(from, to, this.rng);
  }

  /** Standard normal (Box–Muller). */
  normal(): number {
    const u = 1 - this.float();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * this.float());
  }

  pick<T>(items: readonly T[]): T {
    return items[this.int(0, items.length - 1)] as T;
  }

  /** A count near `mean` (normal approximation of a Poisson draw, never negative). */
  count(mean: number): number {
    if (mean <= 0) return 0;
    return Math.max(0, Math.round(mean + Math.sqrt(mean) * this.normal()));
  }
}
