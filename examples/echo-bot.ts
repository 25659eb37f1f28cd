/**
 * A bot that is an actor: `echo` answers every message with the same body,
 * upper-cased when it is a string. It lives inside the node, registered as
 * a device of the user `echo`, so messages sent to it while it was stopped
 * arrive when it starts again.
 *
 * Run: node --import tsx examples/echo-bot.ts   (a node on 8080, data in ./data-bot)
 * Then, with any client, send to `user:echo`.
 */
import { createNode, type ParleyNode } from '../src/server/node.js';
import { startBot, type Bot } from '../src/server/bot.js';

export async function main(port = 8080, data = './data-bot'): Promise<{ node: ParleyNode; bot: Bot; stop(): Promise<void> }> {
  const node = await createNode({ port, data, workers: 1, log: 'warn' });
  await node.start();
  const bot = await startBot(node, {
    user: 'echo',
    async onMessage(m, b) {
      const body = typeof m.body === 'string' ? m.body.toUpperCase() : m.body;
      await b.send(m.conv.startsWith('g:') ? `group:${m.conv.slice(2)}` : `user:${m.from}`, body);
    },
  });
  return {
    node,
    bot,
    async stop() {
      await bot.stop();
      await node.stop();
    },
  };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const app = await main();
  console.log(`echo bot running on ${app.node.url}; send to user:echo`);
  process.once('SIGINT', () => void app.stop().then(() => process.exit(0)));
}
