/**
 * Messages between the bench (parent) and the gateway process (child), over Node's IPC
 * channel.
 */

export type GatewayParentMessage = { type: 'cpu' } | { type: 'exit' };

export type GatewayChildMessage =
  /** The gateway listens at `url` (loopback, a free port). */
  | { type: 'listening'; url: string }
  /** CPU time (user + system) the process has used so far, µs. */
  | { type: 'cpu'; cpuUs: number };
