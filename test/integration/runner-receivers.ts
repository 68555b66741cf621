import { EventEmitter, once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { SMTPServer } from 'smtp-server';

/** Something that collects messages and lets a test wait for one that matches. */
class Inbox<T> {
  readonly received: T[] = [];
  private readonly emitter = new EventEmitter();

  push(message: T): void {
    this.received.push(message);
    this.emitter.emit('message');
  }

  async waitFor(match: (message: T) => boolean): Promise<T> {
    for (;;) {
      const found = this.received.find(match);
      if (found) return found;
      await once(this.emitter, 'message');
    }
  }
}

export interface WebhookReceiver extends Inbox<Record<string, unknown>> {
  url: string;
  close(): Promise<void>;
}

/** A local HTTP endpoint that records JSON POST bodies, on a free loopback port. */
export async function startWebhookReceiver(status = 200): Promise<WebhookReceiver> {
  const inbox = new Inbox<Record<string, unknown>>();
  const server: Server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      inbox.push({
        ...(JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, unknown>),
        contentType: request.headers['content-type'],
      });
      response.writeHead(status).end();
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  return Object.assign(inbox, {
    url: `http://127.0.0.1:${port}/hooks/retrainer`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  });
}

export interface Mail {
  from: string;
  to: string[];
  raw: string;
}

export interface SmtpReceiver extends Inbox<Mail> {
  url: string;
  close(): Promise<void>;
}

/** A real SMTP server (npm `smtp-server`) on a free loopback port that keeps every message. */
export async function startSmtpReceiver(): Promise<SmtpReceiver> {
  const inbox = new Inbox<Mail>();
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS'],
    logger: false,
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on('data', (chunk: Buffer) => chunks.push(chunk));
      stream.on('end', () => {
        inbox.push({
          from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
          to: session.envelope.rcptTo.map((rcpt) => rcpt.address),
          raw: Buffer.concat(chunks).toString('utf8'),
        });
        callback();
      });
    },
  });
  server.listen(0, '127.0.0.1');
  await once(server.server, 'listening');
  const { port } = server.server.address() as AddressInfo;
  return Object.assign(inbox, {
    url: `smtp://127.0.0.1:${port}`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  });
}
