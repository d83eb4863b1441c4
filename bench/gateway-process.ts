/**
 * The gateway's own process for the HTTP scenario: starts Errand's gateway (defaults, no
 * token, no logger) on a free loopback port against the bench's Redis (argument: its URL),
 * so the gateway's CPU never mixes with the load generator's; beside it, a bare node:http
 * server (bench/floor-server.ts), the floor the gateway's CPU per request is read against.
 * Spawned by bench/gateway-child.ts; answers its CPU time when asked, closes on 'exit' or
 * when the parent goes away.
 */
import { startGateway } from '../src/gateway/index.js';
import { startFloorServer } from './floor-server.js';
import type { GatewayChildMessage, GatewayParentMessage } from './gateway-protocol.js';

const redisUrl = process.argv[2];
if (!redisUrl || !process.send) {
  console.error('usage: forked by the bench with the Redis URL');
  process.exit(2);
}

function send(message: GatewayChildMessage): void {
  process.send?.(message);
}

const gateway = await startGateway({ connection: redisUrl, host: '127.0.0.1', port: 0 });
const floor = await startFloorServer();

let closing: Promise<void> | undefined;
function close(): Promise<void> {
  // Bounded: a stuck close must not keep the process (the parent kills it after a while too).
  closing ??= Promise.race([Promise.all([gateway.close(), floor.close()]).then(() => undefined), new Promise<void>((resolve) => setTimeout(resolve, 2_000).unref())]);
  return closing;
}

process.on('message', (message: GatewayParentMessage) => {
  if (message.type === 'cpu') {
    const { user, system } = process.cpuUsage();
    send({ type: 'cpu', cpuUs: user + system });
    return;
  }
  if (message.type === 'exit') void close().then(() => process.disconnect());
});

// The parent going away (crash, Ctrl-C) ends this process too.
process.on('disconnect', () => void close().then(() => process.exit(0)));

send({ type: 'listening', url: gateway.url, floorUrl: floor.url });
