import { SetMetadata, type ExecutionContext } from '@nestjs/common';
import { createHash } from 'node:crypto';

const STARTS_RUNS = 'retrainer:starts-runs';

/** Marks a route that starts runs (GPU-hours): it also counts against API_START_RATE_LIMIT per token. */
export const StartsRuns = (): MethodDecorator => SetMetadata(STARTS_RUNS, true);

/** Whether a request starts runs (a dry run does not). */
export function startsRuns(context: ExecutionContext): boolean {
  if (Reflect.getMetadata(STARTS_RUNS, context.getHandler()) !== true) return false;
  const body = context.switchToHttp().getRequest<{ body?: { dryRun?: unknown } }>().body;
  return body?.dryRun !== true;
}

/** The start limit counts per token (its digest, never the secret), else per address. */
export function tokenTracker(request: { headers?: Record<string, unknown>; ip?: string }): string {
  const header = request.headers?.authorization;
  return typeof header === 'string'
    ? createHash('sha256').update(header).digest('hex')
    : `ip:${request.ip ?? ''}`;
}
