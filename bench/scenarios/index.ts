/**
 * Every scenario, in the order the bench runs them.
 */
import type { ScenarioName } from '../settings.js';
import { durabilityScenario } from './durability.js';
import { enqueueScenario } from './enqueue.js';
import { flowScenario } from './flow.js';
import { flowsScenario } from './flows.js';
import { httpScenario } from './http.js';
import { isolatedScenario } from './isolated.js';
import { latencyScenario } from './latency.js';
import { memoryScenario } from './memory.js';
import { partitionsScenario } from './partitions.js';
import { processingScenario } from './processing.js';
import { referenceScenario } from './reference.js';
import type { Scenario } from './types.js';

export const SCENARIOS: Readonly<Record<ScenarioName, Scenario>> = {
  reference: referenceScenario,
  enqueue: enqueueScenario,
  processing: processingScenario,
  isolated: isolatedScenario,
  latency: latencyScenario,
  memory: memoryScenario,
  http: httpScenario,
  flow: flowScenario,
  partitions: partitionsScenario,
  durability: durabilityScenario,
  flows: flowsScenario,
};
