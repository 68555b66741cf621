import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Params } from 'nestjs-pino';
import pino, { type DestinationStream } from 'pino';
import type { Config } from '../config';

/**
 * The API's logs: JSON lines through pino (nestjs-pino) at `LOG_LEVEL`. Requests are logged by
 * pino-http at `debug` when they succeed, `warn` for 4xx and `error` for 5xx, so `info` shows only
 * what needs a look; a request about a run carries its id (`run`, and `step` for step actions).
 * Bearer tokens never reach a log line.
 */
export function apiLoggerParams(config: Pick<Config, 'LOG_LEVEL'>, destination?: DestinationStream): Params {
  return {
    pinoHttp: [
      {
        level: config.LOG_LEVEL,
        base: { service: 'api' },
        timestamp: pino.stdTimeFunctions.isoTime,
        redact: { paths: ['req.headers.authorization', 'req.headers.cookie'], censor: '[redacted]' },
        customLogLevel: (_request: IncomingMessage, response: ServerResponse, error?: Error) =>
          error || response.statusCode >= 500 ? 'error' : response.statusCode >= 400 ? 'warn' : 'debug',
        customProps: (request: IncomingMessage) => runAndStepOf(request.url ?? ''),
      },
      destination ?? pino.destination(1),
    ],
  };
}

/** `/runs/<encoded id>/steps/<step>/…` → `{ run, step }`. */
export function runAndStepOf(url: string): { run?: string; step?: string } {
  const match = /^\/runs\/([^/?]+)(?:\/steps\/([^/?]+))?/.exec(url);
  if (!match) return {};
  const decode = (part: string) => {
    try {
      return decodeURIComponent(part);
    } catch {
      return part;
    }
  };
  return { run: decode(match[1]!), ...(match[2] ? { step: decode(match[2]) } : {}) };
}
