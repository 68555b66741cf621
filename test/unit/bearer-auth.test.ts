import { Reflector } from '@nestjs/core';
import { UnauthorizedException } from '@nestjs/common';
import { createHash } from 'node:crypto';
import type * as Crypto from 'node:crypto';
import { beforeEach, describe, expect, it, vi } from 'vitest';
import { BearerAuthGuard } from '../../api/auth/bearer-auth.guard';
import { loadConfig } from '../../config';

// The guard's only collaborator that matters here: the constant-time compare, observed (not replaced).
const compared = vi.hoisted(() => [] as [Buffer, Buffer][]);
vi.mock('node:crypto', async (importOriginal) => {
  const actual = await importOriginal<typeof Crypto>();
  return {
    ...actual,
    timingSafeEqual: (a: NodeJS.ArrayBufferView, b: NodeJS.ArrayBufferView) => {
      compared.push([Buffer.from(a as Uint8Array), Buffer.from(b as Uint8Array)]);
      return actual.timingSafeEqual(a, b);
    },
  };
});

const SECRETS = ['first-secret-aaaa', 'second:secret:with:colons', 'third-secret-cccccccccccccccccccc'];
const guard = new BearerAuthGuard(
  new Reflector(),
  loadConfig({
    API_TOKENS: `alice:viewer:${SECRETS[0]},bob:operator:${SECRETS[1]},carol:admin:${SECRETS[2]}`,
  }),
);
const sha256 = (text: string) => createHash('sha256').update(text).digest();

// The audit: all tokens were equal and the token length leaked through the compare. Now each token
// has a name and a role, and a presented token is compared by its SHA-256 digest against every
// configured one: the compare sees 32 bytes whatever was sent, and as many compares whichever matched.
describe('bearer tokens: named, with a role, compared by digest against every token', () => {
  beforeEach(() => {
    compared.length = 0;
  });

  it('finds the token by its secret (colons included) and says who it is', () => {
    expect(guard.authenticate(`Bearer ${SECRETS[0]}`)).toEqual({ name: 'alice', role: 'viewer' });
    expect(guard.authenticate(`Bearer ${SECRETS[1]}`)).toEqual({ name: 'bob', role: 'operator' });
    expect(guard.authenticate(`bearer ${SECRETS[2]}`)).toEqual({ name: 'carol', role: 'admin' });
  });

  it('compares 32-byte digests with every token, for a match, a near miss, a short or a long token', () => {
    const presented = [
      SECRETS[0]!, // the first token matches: the others are compared all the same
      SECRETS[2]!, // the last one matches
      SECRETS[0]!.slice(0, -1), // a prefix of a secret
      `${SECRETS[0]}x`, // a secret and more
      'x', // one character
      'y'.repeat(512), // the longest accepted
    ];
    for (const token of presented) {
      compared.length = 0;
      try {
        guard.authenticate(`Bearer ${token}`);
      } catch (error) {
        expect(error).toBeInstanceOf(UnauthorizedException);
      }
      expect(compared, token).toHaveLength(SECRETS.length);
      for (const [configured, given] of compared) {
        expect(configured.length).toBe(32);
        expect(given.length).toBe(32);
        expect(given.equals(sha256(token))).toBe(true);
      }
      expect(compared.map(([configured]) => configured.toString('hex'))).toEqual(
        SECRETS.map((secret) => sha256(secret).toString('hex')),
      );
    }
  });

  it('refuses near misses, other schemes, empty and oversized tokens with 401, never by comparing raw secrets', () => {
    for (const header of [
      `Bearer ${SECRETS[0]!.slice(0, -1)}`,
      `Bearer ${SECRETS[0]}x`,
      `Bearer ${SECRETS[0]!.toUpperCase()}`,
      `Basic ${SECRETS[0]}`,
      `Bearer`,
      `Bearer ${'z'.repeat(513)}`,
      `Bearer ${SECRETS[0]} extra`,
      '',
    ]) {
      expect(() => guard.authenticate(header), header).toThrow(UnauthorizedException);
    }
    // Only digests were ever compared.
    for (const [configured, given] of compared) expect([configured.length, given.length]).toEqual([32, 32]);
  });
});
