/**
 * The chat layer's tables, declared once per store. Every key starts with
 * the owning actor's id, so each row lives in that actor's partition and one
 * actor's writes are one transaction.
 *
 * | name        | key                         | value          | owner          |
 * |-------------|-----------------------------|----------------|----------------|
 * | users       | (user:u)                    | UserRecord     | the user actor |
 * | uconv       | (user:u, conv)              | UserConv       | the user actor |
 * | keys        | (user:u, device)            | KeyRecord      | the user actor |
 * | sentids     | (user:u, client id)         | Sent           | the user actor; expires after the retention |
 * | inbox       | queue of user:u             | InboxEntry     | the user actor; one consumer per device |
 * | convs       | (conv:c)                    | ConvRecord     | the conv actor |
 * | log         | (conv:c, seq)               | StoredMessage  | the conv actor; expires after the retention |
 * | dedupe      | (conv:c, sender, client id) | {seq, ts}      | the conv actor; expires after the retention |
 * | fanout      | (conv:c)                    | {since}        | the conv actor: set while a member has not accepted every message (removed lazily) |
 */
import type { Store, Table, Queue } from '../store/index.js';
import type { InboxEntry, Sent, StoredMessage } from './messages.js';
import type { Unread } from './unread.js';

export interface UserRecord {
  hash: string | null;
  createdAt: number;
  lastSeenSetting: 'everyone' | 'nobody';
  lastSeen: number | null;
  /** Registered devices (by first auth), at most `limits.devicesPerUser`. */
  devices: Record<string, { registeredAt: number }>;
  /**
   * Devices removed with `device_remove`, and when: a token of that device
   * issued before then is refused, so a stolen phone's token stops working
   * with the removal. The newest `REMOVED_KEPT` (64) are kept; older ones'
   * tokens have expired by then in all but extreme settings.
   */
  removed?: Record<string, number>;
  /** Whether others may add this user to groups (`settings.groupAdd`); absent: everyone. */
  groupAdd?: 'everyone' | 'nobody';
  /** The operator declared this user (`ParleyNode.declareUsers`): it exists without an account or a device. */
  declared?: true;
  /**
   * Message bytes this user sent, per day (`[day since the epoch, bytes]`,
   * oldest first), for `limits.storedBytesPerUser`. Days older than the
   * retention are dropped: their messages have expired from the logs.
   */
  sentBytes?: Array<[number, number]>;
}

export interface UserConv {
  /** Highest seq of this conversation accepted into the inbox. */
  accepted: number;
  lastSeq: number;
  lastTs: number;
  /** The user's read position. */
  read: number;
  /** Messages from others after `read` (see unread.ts). */
  unread: Unread;
  member: boolean;
  /** The last group announcement applied (announcements.ts): a repeat is answered and ignored. */
  ev?: number;
}

export interface KeyRecord {
  identityKey: string;
  signedPreKey: { id: number; key: string; sig: string };
  /** One-time prekeys by id, each handed out at most once. */
  otks: Array<{ id: number; key: string }>;
}

export interface ConvRecord {
  kind: 'dm' | 'group';
  members: string[];
  admins: string[];
  name: string;
  createdAt: number;
  lastSeq: number;
  lastTs: number;
  /** Per member: the last seq its user actor accepted (at-least-once fan-out). */
  cursors: Record<string, number>;
  /** Per member: read position (for read receipts). */
  reads: Record<string, number>;
  /**
   * Per member added after the group was made: `lastSeq` when it was added
   * (absent: 0). Its floor: `history`, `fetch` and resends never give it a
   * seq at or below it, so a new member cannot read the group's past.
   */
  joined?: Record<string, number>;
  /** The number of the last group change announced (announcements.ts). */
  ev?: number;
  /** Announcements some of their users have not answered yet, oldest first. */
  pending?: Announcement[];
}

/** A group change to tell users of (announcements.ts). */
export interface Announcement {
  ev: number;
  /** The group event (a `g` inbox entry) for the users in `to`. */
  entry: InboxEntry;
  /** Users whose membership changes (`member`), with the seq and time they join or leave at. */
  changed: string[];
  member: boolean;
  lastSeq: number;
  lastTs: number;
  to: string[];
  /** Users that have not answered yet. */
  left: string[];
}


export interface ChatTables {
  users: Table<[string], UserRecord>;
  uconv: Table<[string, string], UserConv>;
  keys: Table<[string, string], KeyRecord>;
  /** What each client id of the user was answered: a client id is unique per sending user. */
  sentids: Table<[string, string], Sent>;
  inbox: Queue<InboxEntry>;
  convs: Table<[string], ConvRecord>;
  log: Table<[string, number], StoredMessage>;
  dedupe: Table<[string, string, string], { seq: number; ts: number }>;
  fanout: Table<[string], { since: number }>;
}

export function declareTables(store: Store, retentionMs: number): ChatTables {
  return {
    users: store.table<[string], UserRecord>('users', { key: ['string'] }),
    uconv: store.table<[string, string], UserConv>('uconv', { key: ['string', 'string'] }),
    keys: store.table<[string, string], KeyRecord>('keys', { key: ['string', 'string'] }),
    sentids: store.table<[string, string], Sent>('sentids', { key: ['string', 'string'], ttlMs: retentionMs }),
    inbox: store.queue<InboxEntry>('inbox', { ttlMs: retentionMs }),
    convs: store.table<[string], ConvRecord>('convs', { key: ['string'] }),
    log: store.table<[string, number], StoredMessage>('log', { key: ['string', 'uint'], ttlMs: retentionMs }),
    dedupe: store.table<[string, string, string], { seq: number; ts: number }>('dedupe', { key: ['string', 'string', 'string'], ttlMs: retentionMs }),
    fanout: store.table<[string], { since: number }>('fanout', { key: ['string'] }),
  };
}
