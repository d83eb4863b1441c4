/**
 * Versions of what is benchmarked: the peers as installed (their devDependencies are
 * pinned exactly), and Errand as this checkout (package version plus git commit).
 */
import { execFileSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

const require = createRequire(import.meta.url);

export function installedVersion(packageName: string): string {
  const manifest = require(`${packageName}/package.json`) as { version?: string };
  return manifest.version ?? 'unknown';
}

export function errandVersion(): string {
  const manifest = require('../../package.json') as { version?: string };
  let commit = '';
  try {
    commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], {
      cwd: fileURLToPath(new URL('../..', import.meta.url)),
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    }).trim();
  } catch {
    // Not a git checkout (a tarball): the package version alone names it.
  }
  return commit ? `${manifest.version ?? '0'}+${commit}` : (manifest.version ?? 'unknown');
}
