import react from '@vitejs/plugin-react';
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

/** Builds the marketplace page into `dist/`, served at `/` by the connectors service (see serve.ts). */
export default defineConfig({
  root: fileURLToPath(new URL('.', import.meta.url)),
  base: '/',
  plugins: [react()],
  build: { outDir: 'dist', emptyOutDir: true, sourcemap: true, assetsDir: 'assets' },
  server: { proxy: Object.fromEntries(['/marketplace', '/installations', '/connections', '/connectors', '/usage', '/oauth', '/openapi.json', '/executions'].map((p) => [p, 'http://127.0.0.1:3000'])) },
});
