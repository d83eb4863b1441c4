// Bundles the dashboard's browser code (src/dashboard/client, TypeScript and CSS) with
// esbuild into dist/dashboard/assets/app.js and app.css, which the gateway serves. Run by
// `npm run build` (and so by `npm start` when dist is stale) and by the tests' global setup.
import { build } from 'esbuild';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));

/** Builds the bundle into `outdir` (default dist/dashboard/assets). */
export async function buildDashboard({ outdir = `${root}dist/dashboard/assets` } = {}) {
  await build({
    absWorkingDir: root,
    entryPoints: { app: 'src/dashboard/client/main.ts' },
    bundle: true,
    format: 'iife',
    target: ['chrome110', 'firefox110', 'safari16'],
    minify: true,
    legalComments: 'none',
    outdir,
    logLevel: 'warning',
  });
  await build({
    absWorkingDir: root,
    entryPoints: { app: 'src/dashboard/client/app.css' },
    bundle: true,
    minify: true,
    outdir,
    logLevel: 'warning',
  });
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  await buildDashboard();
}
