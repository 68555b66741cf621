import { Inject, Injectable, ServiceUnavailableException, type OnModuleDestroy } from '@nestjs/common';
import { Client, Connection } from '@temporalio/client';
import { CONFIG } from '../config.token';
import type { Config } from '../../config';
import { temporalTls } from '../../config/temporal-tls';

/** The API's one Temporal client, connected lazily so the API starts even while Temporal is down. */
@Injectable()
export class TemporalService implements OnModuleDestroy {
  private connection: Promise<Connection> | undefined;

  constructor(@Inject(CONFIG) private readonly config: Config) {}

  get address(): string {
    return this.config.TEMPORAL_ADDRESS;
  }

  /** The client; 503 (documented on every route that reaches Temporal) when Temporal cannot be reached. */
  async client(): Promise<Client> {
    const connection = await this.connect().catch(() => {
      // Neither the address nor gRPC's own words go to the caller (the log has them).
      throw new ServiceUnavailableException('Temporal does not answer; try again later');
    });
    return new Client({ connection, namespace: this.config.TEMPORAL_NAMESPACE });
  }

  async ping(): Promise<void> {
    const connection = await this.connect();
    await connection.workflowService.getSystemInfo({});
  }

  async onModuleDestroy(): Promise<void> {
    const connection = this.connection;
    this.connection = undefined;
    if (connection) await (await connection.catch(() => undefined))?.close();
  }

  private connect(): Promise<Connection> {
    this.connection ??= Connection.connect({
      address: this.config.TEMPORAL_ADDRESS,
      tls: temporalTls(this.config),
      connectTimeout: 5000,
    });
    const pending = this.connection;
    pending.catch(() => {
      if (this.connection === pending) this.connection = undefined; // retry on the next call
    });
    return pending;
  }
}
