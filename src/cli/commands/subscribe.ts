/**
 * `errand subscribe <channel|pattern>`: prints every message published to a live channel
 * (or to the channels a pattern matches) from now on, one line each, until SIGINT or
 * SIGTERM (exit 0). `--raw` for exact channel names and plain strings, as redis-cli.
 *
 * `errand subscribe --topic <topic> --group <group>`: joins a durable topic's subscriber
 * group and prints each message the group hands this member, acknowledging it once the
 * line is written: at least once (a message printed just before a crash is printed again,
 * by whichever member holds it after the lease).
 *
 * Both check Redis first (one line and exit 1 when it does not answer), then use their own
 * connections, which wait through a Redis restart.
 */
import { validateName } from '../../config.js';
import { Broadcast, Topic, ValidationError, type ChannelMeta, type TopicMessageMeta, type TopicStart } from '../../index.js';
import type { CliContext } from '../context.js';
import { notice, warning, writeOut } from '../notices.js';
import { channelArgument, topicStart, wholeNumber } from '../parse.js';
import { watchStopSignals, type StopRequest } from '../stop-signal.js';
import type { RegisterCommand } from './index.js';

interface SubscribeOptions {
  topic?: boolean;
  raw?: boolean;
  group?: string;
  from?: TopicStart;
  lease?: number;
}

/** How long the last printed messages may take to be acknowledged when stopping. */
const CLOSE_TIMEOUT_MS = 5_000;

export const registerSubscribe: RegisterCommand = (program, cli) => {
  program
    .command('subscribe')
    .summary('print the messages of a live channel or pattern, or of a topic group with --topic')
    .description(
      'print every message published to a live channel (or pattern: news.*) from now on, one line each, until Ctrl-C; ' +
        'with --topic --group, join a subscriber group of a durable topic and print (and acknowledge) the messages it receives',
    )
    .argument('<name>', 'the channel or pattern (or with --topic, the topic)')
    .option('-t, --topic', 'the name is a durable topic (needs --group)')
    .option('-g, --group <group>', 'with --topic: the subscriber group to join (created on first use)')
    .option('--from <start>', 'with --topic: where a new group starts: new (default), earliest, a message id, or an ISO time', topicStart)
    .option('--lease <ms>', 'with --topic: the group\'s lease; use the same value as its other members (default 30000)', wholeNumber(50))
    .option('--raw', 'live channels only: the exact channel name and plain-string messages, as redis-cli SUBSCRIBE')
    .addHelpText(
      'after',
      `
Examples:
  errand subscribe news                              # Errand channel "news": one JSON message per line
  errand subscribe 'news.*' --json                   # {"channel":"news.eu","pattern":"news.*","message":...}
  errand subscribe --raw task:pubsub:channel         # hears redis-cli PUBLISH task:pubsub:channel 7
  errand subscribe --topic orders --group audit --from earliest`,
    )
    .action(async (name: string, options: SubscribeOptions) => {
      if (options.topic) {
        if (options.raw) throw new ValidationError('--raw applies to live channels; topics carry JSON: drop --raw, or --topic to subscribe to a channel');
        if (options.group === undefined) {
          throw new ValidationError(
            `a topic subscriber joins a group: add --group <name> (every group gets every message; the members of one group share them), e.g. errand subscribe --topic ${name} --group audit`,
          );
        }
        await subscribeToTopic(cli, validateName('topic', name), validateName('group', options.group), options);
      } else {
        const flag = options.group !== undefined ? '--group' : options.from !== undefined ? '--from' : options.lease !== undefined ? '--lease' : undefined;
        if (flag) throw new ValidationError(`${flag} applies to durable topics: add --topic, or drop ${flag} to listen to the live channel`);
        const raw = options.raw === true;
        await subscribeToChannel(cli, channelArgument(name, { raw, pattern: true }), raw);
      }
    });
};

/** Checks Redis on the fail-fast connection, which is then closed: the subscriber has its own. */
async function checkRedis(cli: CliContext): Promise<void> {
  await cli.checkRedis();
  await cli.close();
}

/** The stop request, also made when stdout is closed (`errand subscribe news | head -1`). */
function stopOnSignalOrClosedOutput(): StopRequest {
  const stop = watchStopSignals();
  process.stdout.on('error', (error: NodeJS.ErrnoException) => {
    // Nothing can be printed any more: a pipe's reader has gone (EPIPE), or worse.
    stop.stop(error.code === 'EPIPE' ? 'stdout closed' : `stdout failed: ${error.message}`);
  });
  return stop;
}

async function subscribeToChannel(cli: CliContext, name: string, raw: boolean): Promise<void> {
  await checkRedis(cli);
  const bus = new Broadcast({ connection: cli.redisUrl, prefix: cli.options.prefix, raw });
  bus.on('error', (error) => warning(cli, error.message));
  bus.on('resubscribed', () => warning(cli, 'the connection to Redis came back; messages published while it was down were missed'));
  const stop = stopOnSignalOrClosedOutput();
  try {
    const subscribed = await Promise.race([bus.subscribe(name, (message, meta) => void printChannelMessage(cli, message, meta, raw)), stop.requested]);
    if (typeof subscribed === 'string') return; // stopped before Redis confirmed
    const what = subscribed.pattern ? `channels matching "${name}"` : `channel "${name}"`;
    notice(cli, `subscribed to ${raw ? 'raw ' : ''}${what}; Ctrl-C to stop`);
    await stop.requested;
  } finally {
    stop.dispose();
    await bus.close();
  }
}

function printChannelMessage(cli: CliContext, message: unknown, meta: ChannelMeta, raw: boolean): Promise<void> {
  if (cli.json) return writeOut(`${JSON.stringify({ ...meta, message })}\n`).catch(() => {}); // stdout's 'error' stops us
  const text = raw ? oneLine(message as string) : JSON.stringify(message);
  return writeOut(`${meta.pattern === undefined ? '' : `${meta.channel}: `}${text}\n`).catch(() => {});
}

/** A raw message as is, unless a line break or control character would break the one-line rule: then JSON-quoted. */
function oneLine(text: string): string {
  return /[\u0000-\u001f\u007f]/.test(text) ? JSON.stringify(text) : text;
}

async function subscribeToTopic(cli: CliContext, name: string, group: string, options: SubscribeOptions): Promise<void> {
  await cli.checkRedis();
  const info = await cli.admin.topics.topic(name).info();
  const existing = info.groups.some((known) => known.name === group);
  await cli.close();
  if (existing && options.from !== undefined) {
    warning(cli, `group "${group}" exists and goes on where it was; --from applies only when a group is created`);
  }
  const topic = new Topic(name, { connection: cli.redisUrl, prefix: cli.options.prefix });
  const subscription = topic.subscribe(group, (message, meta) => printTopicMessage(cli, message, meta), {
    ...(options.from === undefined ? {} : { from: options.from }),
    ...(options.lease === undefined ? {} : { leaseMs: options.lease }),
  });
  subscription.on('error', (error) => warning(cli, `${error.message} (it keeps trying)`));
  subscription.on('failed', (meta, error) => warning(cli, `message ${meta.id} was not acknowledged (${error.message}); it will be delivered again`));
  subscription.on('lost', (meta) => warning(cli, `message ${meta.id}: its lease ran out before it was acknowledged, so another member may print it too`));
  const stop = stopOnSignalOrClosedOutput();
  try {
    const ready = await Promise.race([subscription.ready().then(() => 'ready' as const), stop.requested]);
    if (ready !== 'ready') return;
    notice(cli, `subscribed to topic "${name}" as a member of group "${group}"${existing ? '' : ' (new group)'}; Ctrl-C to stop`);
    await stop.requested;
  } finally {
    stop.dispose();
    // Acknowledges what was printed, leaves the group; the rest goes back to the group after the lease.
    await subscription.close({ timeoutMs: CLOSE_TIMEOUT_MS });
    await topic.close();
  }
}

/** Resolves once the line is written: only then is the message acknowledged. */
function printTopicMessage(cli: CliContext, message: unknown, meta: TopicMessageMeta): Promise<void> {
  if (!cli.json) return writeOut(`${JSON.stringify(message)}\n`);
  const { id, topic, group, attempt, publishedAt } = meta;
  return writeOut(`${JSON.stringify({ topic, group, id, attempt, publishedAt, message })}\n`);
}
