/**
 * Errand's public API. Everything a user imports comes from here; everything else is
 * internal and may change.
 */
export { Queue, Task } from './queue/queue.js';
export type { EnqueueItem, ResultOptions, TaskCounts, ThroughputPoint, WorkerInfo } from './queue/queue.js';
export { Worker } from './queue/worker.js';
export type { CloseOptions, Handler, HandlerContext, WorkerEvents } from './queue/worker.js';
export type { ActiveTask, TaskAttempt, TaskInfo } from './queue/task.js';
export type { FollowLogsOptions, TaskLogLine, TaskLogs } from './queue/task-logs.js';
export { TaskEvents } from './queue/task-events.js';
export type { OutcomeListener, StateChangeListener, WatchOptions } from './queue/task-events.js';
export type { TaskState } from './queue/states.js';
export type { ScheduleDefinition, ScheduleInfo, ScheduleSpec } from './queue/schedules.js';
export type { GroupInfo, GroupLimits, GroupLimitsPatch, QueueSettings, RateLimit, SettingsPatch } from './queue/settings.js';
export type { BackoffOptions, ConnectionOption, DurabilityOptions, QueueOptions, TaskOptions, WorkerOptions } from './config.js';
export {
  ClosedError,
  ErrandError,
  errorCodes,
  ForbiddenError,
  HandlerCrashedError,
  HandlerTimeoutError,
  HeadersTooLargeError,
  InternalError,
  InvalidStateError,
  LeaseLostError,
  PayloadTooLargeError,
  QueueFullError,
  PartitionsDisagreeError,
  SettingsConflictError,
  AuthRateLimitedError,
  RedisAuthFailedError,
  RedisOutOfMemoryError,
  RedisUnavailableError,
  ReplicationTimeoutError,
  RequestTimeoutError,
  RetryAfterError,
  RateLimitedError,
  RouteNotFoundError,
  ScheduleNotFoundError,
  TaskCancelledError,
  TaskFailedError,
  TaskNotFoundError,
  TooManyStreamsError,
  UnauthorizedError,
  UnrecoverableError,
  UnsafeEvictionPolicyError,
  UnsupportedMediaTypeError,
  ValidationError,
  WaitTimeoutError,
} from './errors.js';
export type { ErrorCode, TaskErrorInfo } from './errors.js';
export { Broadcast, ChannelSubscription } from './broadcast/channel.js';
export type { BroadcastEvents, ChannelHandler, ChannelMeta } from './broadcast/channel.js';
export type { BroadcastOptions, SubscribeOptions, TopicOptions, TopicStart } from './broadcast/options.js';
export { Topic } from './broadcast/topic.js';
export { TopicSubscription } from './broadcast/topic-subscription.js';
export type { SubscriptionCloseOptions, TopicHandler, TopicMessageMeta, TopicSubscriptionEvents } from './broadcast/topic-types.js';
export type { DeadLetter, PublishedPoint, TopicGroupInfo, TopicInfo } from './broadcast/topic-info.js';
export { ListBridge } from './queue/list-bridge.js';
export type { AdoptListOptions, ListBridgeEvents } from './queue/list-bridge.js';
export { Flow, Flows } from './flows/flows.js';
export type { FlowNodeRef, FlowsOptions, FlowTreeNode } from './flows/flows.js';
export { MAX_FLOW_NODES } from './flows/flow-tree.js';
export type { ChainStep, ChildFailurePolicy, FlowNode, FlowTaskOptions } from './flows/flow-tree.js';
export type { ChildOutcome } from './flows/children.js';
