// tsc compiles only TypeScript; the Lua scripts (and later the dashboard's static files)
// are read at run time next to the compiled modules, so they are copied beside them.
import { cpSync } from 'node:fs';

const assets = [['src/redis/scripts', 'dist/redis/scripts']];
for (const [from, to] of assets) cpSync(from, to, { recursive: true });
