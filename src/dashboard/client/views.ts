/**
 * Every view of the dashboard, in navigation order. A new page is one more entry here,
 * with its path in the server's PAGE_PATHS (pages.ts).
 */
import type { View } from './ui.js';
import { broadcastView } from './views/broadcast.js';
import { demoView } from './views/demo.js';
import { overviewView } from './views/overview.js';
import { queueView } from './views/queue.js';
import { schedulesView } from './views/schedules.js';
import { taskView } from './views/task.js';
import { workersView } from './views/workers.js';

export const VIEWS: readonly View[] = [overviewView, queueView, taskView, workersView, schedulesView, broadcastView, demoView];
