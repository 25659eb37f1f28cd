import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { UNREAD_RANGES, addUnread, countUnread, readUnread, type Unread } from '../../src/chat/unread.js';

// A conversation as the user sees it: each step is a message (from someone
// else or from the user) or a read up to some seq at or below the last one.
const step = fc.oneof(fc.constant({ k: 'other' as const }), fc.constant({ k: 'own' as const }), fc.nat({ max: 1000 }).map((back) => ({ k: 'read' as const, back })));

test('unread ranges count exactly the messages from others after the read position (property, against a set of seqs)', () => {
  fc.assert(
    fc.property(fc.array(step, { maxLength: 400 }), (steps) => {
      const u: Unread = { ranges: [], extra: 0 };
      let model: number[] = [];
      let seq = 0;
      let read = 0;
      for (const s of steps) {
        if (s.k === 'read') {
          const top = Math.max(read, seq - s.back);
          read = top;
          readUnread(u, top);
          model = model.filter((x) => x > top);
        } else {
          seq++;
          if (s.k === 'other') {
            addUnread(u, seq);
            model.push(seq);
          }
        }
        assert.equal(countUnread(u), model.length);
        // Ranges are ascending, well-formed and never adjacent, so each message is counted once.
        for (let i = 0; i < u.ranges.length; i += 2) {
          assert.ok(u.ranges[i]! <= u.ranges[i + 1]!);
          if (i > 0) assert.ok(u.ranges[i]! > u.ranges[i - 1]! + 1);
        }
      }
    }),
  );
});

test('a thousand messages in a row without a read are one range; a repeat is not counted twice', () => {
  const u: Unread = { ranges: [], extra: 0 };
  for (let s = 1; s <= 1000; s++) addUnread(u, s);
  addUnread(u, 1000);
  assert.deepEqual(u.ranges, [1, 1000]);
  assert.equal(countUnread(u), 1000);
});

test('past UNREAD_RANGES ranges the oldest is folded into a count, and a read past the ranges kept clears it', () => {
  const u: Unread = { ranges: [], extra: 0 };
  // Others' messages at odd seqs, the user's own at even ones: one range each.
  for (let s = 1; s <= 2 * (UNREAD_RANGES + 5); s += 2) addUnread(u, s);
  assert.equal(u.ranges.length, 2 * UNREAD_RANGES);
  assert.equal(u.extra, 5);
  assert.equal(countUnread(u), UNREAD_RANGES + 5);
  readUnread(u, u.ranges[0]!);
  assert.equal(u.extra, 0);
  assert.equal(countUnread(u), UNREAD_RANGES - 1);
});
