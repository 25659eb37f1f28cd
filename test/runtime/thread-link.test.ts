/**
 * ThreadTransport between two Hosts of one process over a real
 * MessageChannel: batches stay bounded, a large send arrives in order over
 * several of them, and envelopes held for a peer that is down reach its
 * successor in order, in bounded batches, up to the hold limit.
 */
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { MessageChannel } from 'node:worker_threads';
import { Host } from '../../src/actors/host.js';
import { ThreadTransport, type ThreadTransportOptions } from '../../src/transport/thread-link.js';
import { waitFor } from '../fixtures/probes.js';
import { recorder } from '../fixtures/recorder.js';

const P = 8;
const onOne = new Array<number>(P).fill(1);
/** The most fields one envelope adds past the bound (a W_CALL: kind and 9 fields). */
const ENVELOPE = 10;

interface Side {
  host: Host;
  link: ThreadTransport;
}

/** A Host on thread `thread` with a ThreadTransport; its `rcv:*` actors record what they get. */
function side(thread: number, got: Map<string, unknown[]>, o: ThreadTransportOptions = {}, generation = 0): Side {
  const host = new Host({
    node: 'n',
    thread,
    generation,
    partitions: P,
    table: onOne,
    sweepMs: 0,
    kinds: {
      rcv: recorder(got),
    },
  });
  const link = new ThreadTransport(host, o);
  host.setTransport(link);
  return { host, link };
}

/** Records the size of every batch `s` receives. */
function batchSizes(s: Side): number[] {
  const sizes: number[] = [];
  const receive = s.host.receive.bind(s.host);
  s.host.receive = (f: unknown[]): void => {
    sizes.push(f.length);
    receive(f);
  };
  return sizes;
}

function connect(a: Side, aThread: number, b: Side, bThread: number): void {
  const ch = new MessageChannel();
  a.link.addPeer(bThread, ch.port1);
  b.link.addPeer(aThread, ch.port2);
}

const range = (n: number, from = 0): number[] => Array.from({ length: n }, (_, k) => from + k);

describe('batches between two threads', () => {
  test('a send of 10 000 casts from one synchronous loop leaves in several batches of at most maxBatchFields and arrives in order', async () => {
    const got = new Map<string, unknown[]>();
    const tx = side(0, new Map());
    const rx = side(1, got);
    const sizes = batchSizes(rx);
    connect(tx, 0, rx, 1);
    const a = tx.host.ref('rcv:a');
    for (let k = 0; k < 10_000; k++) a.send(k);
    await waitFor(() => (got.get('rcv:a')?.length ?? 0) >= 10_000);
    assert.deepEqual(got.get('rcv:a'), range(10_000));
    assert.ok(sizes.length >= 3, `10 000 casts in ${sizes.length} batches`);
    assert.ok(Math.max(...sizes) <= 4096 + ENVELOPE, `largest batch ${Math.max(...sizes)} fields`);
    await Promise.all([tx.host.shutdown(100), rx.host.shutdown(100)]);
  });

  test('envelopes for a peer that is down are held in bounded batches and reach its successor in order', async () => {
    const tx = side(0, new Map(), { maxBatchFields: 256 });
    connect(tx, 0, side(1, new Map()), 1);
    tx.link.peerDown(1);
    const a = tx.host.ref('rcv:a');
    const b = tx.host.ref('rcv:b');
    // Runs of 50 that alternate between two actors: runs, single headers and batch cuts all occur.
    for (let k = 0; k < 5000; k++) (Math.floor(k / 50) % 2 === 0 ? a : b).send(k);
    await new Promise((r) => setTimeout(r, 20));
    assert.equal(tx.link.batchesSent, 0, 'nothing is sent while the peer is down');

    const got = new Map<string, unknown[]>();
    const next = side(1, got, {}, 1);
    const sizes = batchSizes(next);
    connect(tx, 0, next, 1);
    await waitFor(() => (got.get('rcv:a')?.length ?? 0) + (got.get('rcv:b')?.length ?? 0) >= 5000);
    assert.deepEqual(
      got.get('rcv:a'),
      range(5000).filter((k) => Math.floor(k / 50) % 2 === 0),
    );
    assert.deepEqual(
      got.get('rcv:b'),
      range(5000).filter((k) => Math.floor(k / 50) % 2 === 1),
    );
    assert.ok(sizes.length >= 5000 / 256, `held envelopes arrived in ${sizes.length} batches`);
    assert.ok(Math.max(...sizes) <= 256 + ENVELOPE, `largest batch ${Math.max(...sizes)} fields`);
    await Promise.all([tx.host.shutdown(100), next.host.shutdown(100)]);
  });

  test('beyond maxHeldFields, casts for a peer that is down are no_route dead letters; the ones held arrive, in order', async () => {
    const tx = side(0, new Map(), { maxBatchFields: 64, maxHeldFields: 256 });
    connect(tx, 0, side(1, new Map()), 1);
    tx.link.peerDown(1);
    const a = tx.host.ref('rcv:a');
    for (let k = 0; k < 1000; k++) a.send(k);
    const dropped = tx.host.deadLetters.counts.no_route;
    assert.ok(dropped > 0 && dropped < 1000, `${dropped} of 1000 dropped`);

    const got = new Map<string, unknown[]>();
    const next = side(1, got, {}, 1);
    connect(tx, 0, next, 1);
    await waitFor(() => (got.get('rcv:a')?.length ?? 0) >= 1000 - dropped);
    const held = got.get('rcv:a')!;
    assert.equal(held.length, 1000 - dropped);
    assert.deepEqual(held, range(held.length), 'the held casts are the first ones, in order');
    await Promise.all([tx.host.shutdown(100), next.host.shutdown(100)]);
  });
});
