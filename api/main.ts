// API process entry point: `npm run api` (dev) or `node dist/api/main.js` (docker-compose).
import { loadConfig } from '../config';
import { createApp } from './app';

async function main(): Promise<void> {
  const config = loadConfig();
  const app = await createApp(config);
  await app.listen(config.API_PORT, '0.0.0.0');
  console.log(`API on :${config.API_PORT}, OpenAPI at /docs`);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
