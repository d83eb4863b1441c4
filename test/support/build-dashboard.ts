/**
 * Vitest global setup: builds the dashboard's client bundle (esbuild, well under a second)
 * before any test runs, so the gateways the tests start serve the current client code,
 * never a stale dist/ from an earlier build.
 */
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export default function setup(): void {
  const root = fileURLToPath(new URL('../..', import.meta.url));
  execFileSync(process.execPath, ['build/dashboard.mjs'], { cwd: root, stdio: 'inherit' });
}
