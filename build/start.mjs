// `npm start` is `errand dev` (src/cli/commands/dev.ts), with the same flags, environment
// (PORT, HOST, REDIS_URL, ERRAND_TOKEN, ...), messages and exit codes: arguments after
// `npm start --` are passed on. It builds dist/ first when it is missing or older than src/
// (a fresh clone, or edited sources), then runs the built CLI in this process.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const entry = join(root, 'dist/cli/main.js');

function newestMtime(dir) {
  let newest = 0;
  for (const item of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, item.name);
    newest = Math.max(newest, item.isDirectory() ? newestMtime(path) : statSync(path).mtimeMs);
  }
  return newest;
}

if (!existsSync(join(root, 'node_modules'))) {
  console.error('errand: node_modules is missing: run npm ci (or npm install) first, then npm start');
  process.exit(1);
}
if (!existsSync(entry) || newestMtime(join(root, 'src')) > statSync(entry).mtimeMs) {
  console.error('errand: building dist/ (npm run build) ...');
  const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
  const build = spawnSync(npm, ['run', 'build'], { cwd: root, stdio: ['ignore', 2, 'inherit'] });
  if (build.status !== 0) {
    console.error('errand: the build failed (see above)');
    process.exit(build.status ?? 1);
  }
}

process.argv.splice(2, 0, 'dev');
await import(new URL('../dist/cli/main.js', import.meta.url).href);
