// Adds lockfile entries for optional platform packages that the package registry we install
// from does not serve (so `npm install` leaves them out of package-lock.json, and `npm ci`
// then refuses the lockfile as out of sync). Each entry names a platform this machine is
// not, so npm never fetches it. Run after `npm install` changes the lockfile:
//   node build/lockfile-platforms.mjs
import { readFileSync, writeFileSync } from 'node:fs';

const platformPackages = {
  '@msgpackr-extract/msgpackr-extract': {
    version: '3.0.7',
    platforms: [['darwin', 'arm64'], ['darwin', 'x64'], ['linux', 'arm'], ['linux', 'arm64'], ['linux', 'x64'], ['win32', 'x64']],
  },
};

const lock = JSON.parse(readFileSync('package-lock.json', 'utf8'));
let added = 0;
for (const [prefix, { version, platforms }] of Object.entries(platformPackages)) {
  for (const [os, cpu] of platforms) {
    const key = `node_modules/${prefix}-${os}-${cpu}`;
    if (lock.packages[key]) continue;
    lock.packages[key] = { version, cpu: [cpu], dev: true, license: 'MIT', optional: true, os: [os] };
    added++;
  }
}
const [root, ...rest] = Object.entries(lock.packages);
lock.packages = Object.fromEntries([root, ...rest.sort(([a], [b]) => a.localeCompare(b))]);
writeFileSync('package-lock.json', `${JSON.stringify(lock, null, 2)}\n`);
console.log(`lockfile: ${added} platform entr${added === 1 ? 'y' : 'ies'} added`);
