// API process entry point: `npm run api` (dev) or `node dist/api/main.js` (docker-compose).
import { loadConfig } from '../config';
import { Logger } from 'nestjs-pino';
import { createApp } from './app';

async function main(): Promise<void> {
  const config = loadConfig();
  const app = await createApp(config);
  await app.listen(config.API_PORT, '0.0.0.0');
  app.get(Logger).log(`API on :${config.API_PORT}, OpenAPI at /docs, metrics at /metrics`);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
