/**
 * The gateway as a library (`errand/gateway`): build it in-process or start it listening.
 * Kept apart from the main entry so that importing Errand does not load Fastify.
 */
export { buildGateway, startGateway } from './app.js';
export type { Gateway, ListeningGateway } from './app.js';
export type { GatewayOptions, ResolvedGatewayOptions } from './options.js';
export { DEMO_CHANNEL, DEMO_LIST, DEMO_QUEUE, startDemoConsumers } from './demo.js';
