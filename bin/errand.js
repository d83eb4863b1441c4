#!/usr/bin/env node
// The `errand` command. Runs the compiled CLI (dist/, from `npm run build`) when present;
// in a checkout without a build it runs the TypeScript source through tsx instead.
import { existsSync } from 'node:fs';

const built = new URL('../dist/cli/main.js', import.meta.url);
if (existsSync(built)) {
  await import(built.href);
} else {
  const { register } = await import('tsx/esm/api');
  register();
  await import(new URL('../src/cli/main.ts', import.meta.url).href);
}
