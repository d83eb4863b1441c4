// tsc compiles only TypeScript; the Lua scripts are read at run time next to the compiled
// modules, so they are copied beside them (the dashboard's bundle: build/dashboard.mjs).
import { cpSync } from 'node:fs';

const assets = [['src/redis/scripts', 'dist/redis/scripts']];
for (const [from, to] of assets) cpSync(from, to, { recursive: true });
