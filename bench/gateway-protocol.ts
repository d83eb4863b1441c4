/**
 * Messages between the bench (parent) and the gateway process (child), over Node's IPC
 * channel.
 */

export type GatewayParentMessage = { type: 'cpu' } | { type: 'exit' };

export type GatewayChildMessage =
  /**
   * The gateway listens at `url` (loopback, a free port); `floorUrl` is the same process's
   * bare node:http server, the machine's floor for CPU per request (bench/floor-server.ts).
   */
  | { type: 'listening'; url: string; floorUrl: string }
  /** CPU time (user + system) the process has used so far, µs. */
  | { type: 'cpu'; cpuUs: number };
