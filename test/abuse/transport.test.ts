/**
 * Abuse below the frames: an upgrade whose headers trickle in (slowloris,
 * cut off by `headersTimeoutMs`), a peer that stops answering pings (an
 * upgraded socket has no other idle timeout; the heartbeat drops it), and
 * the Origin allow-list (403 for others, before any WebSocket exists).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { bystanders, healthy, login, newUser, Peer, signup, uniqueUser, unaffected, withNode, type Bystanders, type TestNode, startNode } from './helpers.js';
import { rawConnect, upgradeRequest } from './raw-ws.js';

const HEADERS_TIMEOUT = 500;
const HEARTBEAT = 300;

function portOf(t: TestNode): number {
  return Number(new URL(t.url).port);
}

describe('transport abuse', () => {
  let t: TestNode;
  let by: Bystanders;

  before(async () => {
    t = await startNode({ headersTimeoutMs: HEADERS_TIMEOUT, heartbeatMs: HEARTBEAT });
    by = await bystanders(t);
  });
  after(async () => {
    by?.close();
    await t?.stop();
  });

  test('slowloris on the upgrade: a socket that trickles its request headers is cut off after headersTimeoutMs', async () => {
    await unaffected(t, by, async () => {
      const request = upgradeRequest(`127.0.0.1:${portOf(t)}`, { protocol: 'parley.v1.json' });
      const sockets = Array.from({ length: 5 }, () => net.connect(portOf(t), '127.0.0.1'));
      const started = Date.now();
      const answers: string[] = [];
      const closedAfter = await Promise.all(
        sockets.map(
          (s) =>
            new Promise<number>((resolve, reject) => {
              let i = 0;
              // One byte every 50 ms: the whole request would take ~10 s.
              const drip = setInterval(() => {
                if (i < request.length - 2 && !s.destroyed) s.write(request[i++]!);
              }, 50);
              const give = setTimeout(() => {
                clearInterval(drip);
                s.destroy();
                reject(new Error('the trickling socket was not cut off within 5 s'));
              }, 5000);
              s.on('error', () => undefined);
              s.on('data', (d: Buffer) => answers.push(d.toString('latin1')));
              s.on('close', () => {
                clearInterval(drip);
                clearTimeout(give);
                resolve(Date.now() - started);
              });
            }),
        ),
      );
      for (const ms of closedAfter) {
        assert.ok(ms >= HEADERS_TIMEOUT - 50, `cut off after ${ms} ms, before headersTimeoutMs`);
        assert.ok(ms <= HEADERS_TIMEOUT + 1500, `cut off only after ${ms} ms`);
      }
      for (const a of answers) assert.match(a, /^HTTP\/1\.1 408 /);
    });
    // An upgrade sent at once still works.
    const p = await Peer.open(t);
    p.close();
  });

  test('malformed upgrade requests: refused with an HTTP status, the node stays up', async () => {
    const port = portOf(t);
    const ask = (request: string): Promise<string> =>
      new Promise((resolve, reject) => {
        const s = net.connect(port, '127.0.0.1');
        let got = '';
        const timer = setTimeout(() => {
          s.destroy();
          reject(new Error(`no answer within 5 s to ${JSON.stringify(request.slice(0, 60))}`));
        }, 5000);
        s.on('error', () => undefined);
        s.on('data', (d: Buffer) => (got += d.toString('latin1')));
        s.on('close', () => {
          clearTimeout(timer);
          resolve(got);
        });
        s.write(request);
      });
    const good = upgradeRequest(`127.0.0.1:${port}`);
    await unaffected(t, by, async () => {
      const cases: Array<[string, RegExp]> = [
        [good.replace('/v1/ws', '/v1/other'), /^HTTP\/1\.1 404 /],
        [good.replace(/Sec-WebSocket-Key: .*\r\n/, ''), /^HTTP\/1\.1 400 /],
        [good.replace(/Sec-WebSocket-Key: .*\r\n/, 'Sec-WebSocket-Key: short\r\n'), /^HTTP\/1\.1 400 /],
        [good.replace('Sec-WebSocket-Version: 13', 'Sec-WebSocket-Version: 7'), /^HTTP\/1\.1 400 /],
        [good.replace('GET ', 'POST '), /^HTTP\/1\.1 (400|404|405) /],
        [good.replace('\r\n\r\n', '\r\nSec-WebSocket-Protocol: ,,,\r\n\r\n'), /^HTTP\/1\.1 400 /],
        ['GARBAGE\r\n\r\n', /^HTTP\/1\.1 400 /],
      ];
      for (const [request, status] of cases) {
        const answer = await ask(request);
        assert.match(answer, status, `${JSON.stringify(request.slice(0, 80))} → ${JSON.stringify(answer.slice(0, 40))}`);
      }
    });
  });

  test('a peer that stops answering pings is dropped by the heartbeat', async () => {
    const user = uniqueUser('silent');
    await signup(t, user);
    const token = await login(t, user);
    await unaffected(t, by, async () => {
      // A bare socket answers nothing: not the pings either.
      const raw = await rawConnect(portOf(t), { protocol: 'parley.v1.json' });
      assert.equal(raw.status, 101);
      raw.send(JSON.stringify({ t: 'auth', token }));
      await raw.next((f) => f.t === 'ready');
      const started = Date.now();
      await Promise.race([raw.closed, new Promise((_, rej) => setTimeout(() => rej(new Error('not dropped within 3 s')), 3000))]);
      const ms = Date.now() - started;
      assert.ok(ms <= 5 * HEARTBEAT + 1000, `dropped after ${ms} ms`);
      assert.ok(
        raw.frames.some((f) => f.opcode === 9),
        'it was pinged first',
      );
      // Peers that answer (the ws library does) stay: the bystanders talk on below.
    });
    const p = await newUser(t, 'awake');
    await new Promise((r) => setTimeout(r, 4 * HEARTBEAT));
    await p.peer.alive();
    p.peer.close();
  });
});

describe('Origin allow-list', () => {
  test('an upgrade from an origin not on the list is refused with 403; listed origins get in', async () => {
    await withNode({ origins: ['https://app.example', 'https://web.example'] }, async (t) => {
      const user = uniqueUser('origin');
      await signup(t, user);
      const token = await login(t, user);
      for (const origin of ['https://evil.example', 'https://app.example.evil', 'http://app.example', 'null']) {
        const raw = await rawConnect(portOf(t), { protocol: 'parley.v1.json', origin });
        assert.equal(raw.status, 403, origin);
        await raw.closed;
        await assert.rejects(Peer.open(t, { origin }), /upgrade refused: 403/);
      }
      // Without an Origin header at all, too (the list is set).
      const none = await rawConnect(portOf(t), { protocol: 'parley.v1.json' });
      assert.equal(none.status, 403);
      await none.closed;
      // Listed origins get in and work.
      for (const origin of ['https://app.example', 'https://web.example']) {
        const p = await Peer.open(t, { origin });
        p.send({ t: 'auth', token });
        assert.equal((await p.next((f) => f.t === 'ready')).t, 'ready');
        await p.alive();
        p.close();
      }
      await healthy(t);
    });
  });

  test('without a list, any origin (or none) gets in', async () => {
    await withNode({}, async (t) => {
      for (const origin of ['https://anything.example', undefined]) {
        const p = await Peer.open(t, origin !== undefined ? { origin } : {});
        assert.equal(p.ws.readyState, 1);
        p.close();
      }
    });
  });
});
