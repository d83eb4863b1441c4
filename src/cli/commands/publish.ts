/**
 * `errand publish <channel> <message>`: sends a message to everyone subscribed to a live
 * channel now, and says how many subscribers Redis handed it to. `--raw` uses the channel
 * name exactly and the message as a plain string, as `redis-cli PUBLISH` does.
 *
 * `errand publish --topic <topic> <message>`: appends the message to a durable topic and
 * prints its id; every subscriber group receives it, now or later.
 */
import { validateName } from '../../config.js';
import { ValidationError } from '../../index.js';
import type { CliContext } from '../context.js';
import { printJson, printLine } from '../output.js';
import { channelArgument, parseJsonArgument } from '../parse.js';
import type { RegisterCommand } from './index.js';

interface PublishOptions {
  topic?: boolean;
  raw?: boolean;
}

export const registerPublish: RegisterCommand = (program, cli) => {
  program
    .command('publish')
    .summary('send a message to a live channel, or to a durable topic with --topic')
    .description(
      'send a message to everyone subscribed to a live channel now (prints how many received it), ' +
        'or with --topic append it to a durable topic (prints its id)',
    )
    .argument('<name>', 'the channel (or with --topic, the topic)')
    .argument('<message>', `the message as JSON, e.g. '{"title":"hello"}' (with --raw, any string)`)
    .option('-t, --topic', 'the name is a durable topic: keep the message for every subscriber group')
    .option('--raw', 'live channels only: the exact channel name and a plain-string message, as redis-cli PUBLISH')
    .addHelpText(
      'after',
      `
Examples:
  errand publish news '{"title":"hello"}'          # Errand channel "news" (JSON)
  errand publish --raw task:pubsub:channel 7       # what redis-cli PUBLISH task:pubsub:channel 7 does
  errand publish --topic orders '{"id":"o-1"}'     # durable topic "orders"; prints the message id`,
    )
    .action(async (name: string, text: string, options: PublishOptions) => {
      if (options.topic) {
        if (options.raw) throw new ValidationError('--raw applies to live channels; topics carry JSON: drop --raw, or --topic to publish to a channel');
        await publishToTopic(cli, validateName('topic', name), parseJsonArgument('the message', text));
      } else {
        const raw = options.raw === true;
        const channel = channelArgument(name, { raw, pattern: false });
        await publishToChannel(cli, channel, raw ? text : channelMessage(text), raw);
      }
    });
};

/** The JSON message of an Errand channel; when it is not JSON, --raw may be what was meant. */
function channelMessage(text: string): unknown {
  try {
    return parseJsonArgument('the message', text);
  } catch (error) {
    if (!(error instanceof ValidationError)) throw error;
    throw new ValidationError(`${error.message} Or, to send the text as is on a raw channel, add --raw.`, { cause: error });
  }
}

async function publishToChannel(cli: CliContext, channel: string, message: unknown, raw: boolean): Promise<void> {
  await cli.checkRedis();
  const { receivers, partial } = await cli.admin.channels.publish(channel, message, { raw });
  if (cli.json) {
    printJson({ channel, raw, receivers, partial });
    return;
  }
  const subscribers = `${receivers} subscriber${receivers === 1 ? '' : 's'}`;
  if (partial) {
    printLine(`delivered to at least ${subscribers} (pattern subscribers on other cluster nodes, or nodes that did not answer, are not counted)`);
    return;
  }
  // A live channel keeps nothing: say so when no one heard it, the usual surprise.
  printLine(receivers ? `delivered to ${subscribers}` : 'delivered to 0 subscribers: no one listens on it now, and a live channel keeps nothing (a topic does)');
}

async function publishToTopic(cli: CliContext, name: string, message: unknown): Promise<void> {
  await cli.checkRedis();
  const id = await cli.admin.topics.topic(name).publish(message);
  if (cli.json) printJson({ topic: name, id });
  else printLine(id);
}
