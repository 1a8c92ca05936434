// Child process of startVerdaccio(): runs Verdaccio on a random loopback port and prints {"port": N} once listening.
import type { AddressInfo } from 'node:net';
import { runServer } from 'verdaccio';

const configPath = process.argv[2];
if (!configPath) throw new Error('usage: node verdaccio-launcher.ts <config.yaml>');
const app = await runServer(configPath);
const server = app.listen(0, '127.0.0.1', () => {
  process.stdout.write(`${JSON.stringify({ port: (server.address() as AddressInfo).port })}\n`);
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));
