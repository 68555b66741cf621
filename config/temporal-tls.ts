import { readFileSync } from 'node:fs';
import type { Config } from './index';

/** The TLS settings of a Temporal connection, in the shape both `Connection` and `NativeConnection` take. */
export interface TemporalTls {
  serverNameOverride?: string;
  serverRootCACertificate?: Buffer;
  clientCertPair?: { crt: Buffer; key: Buffer };
}

type TlsConfig = Pick<
  Config,
  'TEMPORAL_TLS' | 'TEMPORAL_TLS_CA' | 'TEMPORAL_TLS_CERT' | 'TEMPORAL_TLS_KEY' | 'TEMPORAL_TLS_SERVER_NAME'
>;

/**
 * TLS (and mutual TLS with a client certificate) to the Temporal frontend, for the worker and the API
 * alike; undefined when TEMPORAL_TLS is off. Files are read once, at connection time.
 */
export function temporalTls(config: Partial<TlsConfig>): TemporalTls | undefined {
  if (config.TEMPORAL_TLS !== 'on') return undefined;
  const cert = config.TEMPORAL_TLS_CERT ?? '';
  const key = config.TEMPORAL_TLS_KEY ?? '';
  if (Boolean(cert) !== Boolean(key))
    throw new Error('TEMPORAL_TLS_CERT and TEMPORAL_TLS_KEY go together (mutual TLS needs both)');
  return {
    ...(config.TEMPORAL_TLS_SERVER_NAME ? { serverNameOverride: config.TEMPORAL_TLS_SERVER_NAME } : {}),
    ...(config.TEMPORAL_TLS_CA ? { serverRootCACertificate: readFileSync(config.TEMPORAL_TLS_CA) } : {}),
    ...(cert ? { clientCertPair: { crt: readFileSync(cert), key: readFileSync(key) } } : {}),
  };
}
