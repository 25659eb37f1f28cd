/**
 * Embedding Parley in an HTTP server you already have.
 *
 * Your routes stay yours; Parley adds its own (`/v1/accounts`,
 * `/v1/sessions`, `/healthz`; `/metrics` only with `metrics.public`) and
 * the WebSocket endpoint `/v1/ws` to the same server. A message filter rejects what your
 * moderation forbids, with a reason the sender sees.
 *
 * Run: node --import tsx examples/embed-in-http-server.ts   (port 3000, data in ./data-embed)
 */
import http from 'node:http';
import { createNode, type ParleyNode } from '../src/server/node.js';

export async function main(port = 3000, data = './data-embed'): Promise<{ server: http.Server; node: ParleyNode; url: string; stop(): Promise<void> }> {
  const server = http.createServer((req, res) => {
    if (req.url === '/hello') {
      res.writeHead(200, { 'content-type': 'text/plain' }).end('hello from the host application\n');
      return;
    }
    res.writeHead(404).end();
  });
  const node = await createNode({
    server,
    data,
    workers: 1,
    log: 'warn',
    // Moderation: refuse messages that shout.
    filter: (m) => (typeof m.body === 'string' && m.body.length > 3 && m.body === m.body.toUpperCase() ? { reject: 'no shouting' } : undefined),
  });
  await node.start();
  await new Promise<void>((r) => server.listen(port, '127.0.0.1', () => r()));
  const addr = server.address() as import('node:net').AddressInfo;
  const url = `http://127.0.0.1:${addr.port}`;
  return {
    server,
    node,
    url,
    async stop() {
      await node.stop();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const app = await main();
  console.log(`host app on ${app.url}/hello, Parley on ${app.url.replace('http', 'ws')}/v1/ws`);
  process.once('SIGINT', () => void app.stop().then(() => process.exit(0)));
}
