/**
 * Bots: a user whose "device" is an actor inside the node.
 *
 * A bot registers with its user actor exactly like a connection does, so it
 * gets the same guarantees: everything sent to it while it was away arrives
 * when it starts (after its last ack), in order, at least once; it acks
 * after `onMessage` has finished. It answers through the same conversation
 * actors clients use, so its messages get `seq`, receipts and history like
 * anyone's.
 *
 * ```ts
 * await startBot(node, { user: 'echo', onMessage: (m, bot) => bot.send(`user:${m.from}`, m.body) });
 * ```
 */
import { nanoid } from 'nanoid';
import type { ActorContext, Behaviour } from '../actors/behaviour.js';
import type { ActorRef } from '../actors/ref.js';
import { ParleyError } from '../actors/errors.js';
import { isError, type ConnMsg, type ConvMsg, type DomainError, type HistoryMessage, type Sent, type UserMsg } from '../chat/messages.js';
import { dmConv, isDevice, isUser } from '../protocol/ids.js';
import type { ParleyNode } from './node.js';

/** A message as the bot's device receives it. */
export type BotMessage = HistoryMessage & { inbox: number };

export interface Bot {
  readonly user: string;
  /** Sends as the bot; `to` is `user:<u>` or `group:<g>`. */
  send(to: string, body: unknown, type?: string): Promise<Sent>;
  stop(): Promise<void>;
}

export interface BotOptions {
  user: string;
  /** Default `bot`. */
  device?: string;
  onMessage(m: BotMessage, bot: Bot): void | Promise<void>;
  /** Other frames (receipts, group events, typing) if wanted. */
  onFrame?(f: Record<string, unknown>, bot: Bot): void;
}

class BotDevice implements Behaviour<ConnMsg> {
  private userRef!: ActorRef<UserMsg>;
  private ctx!: ActorContext<ConnMsg>;

  constructor(
    private readonly o: BotOptions & { device: string },
    private readonly bot: Bot,
  ) {}

  async init(ctx: ActorContext<ConnMsg>): Promise<void> {
    this.ctx = ctx;
    this.userRef = ctx.ref<UserMsg>(`user:${this.o.user}`);
    const r = await ctx.call<{ inbox: number } | DomainError>(this.userRef, { t: 'connect', device: this.o.device, conn: ctx.self, codec: 'json' });
    if (isError(r)) throw new ParleyError(r.error.code, r.error.message);
    ctx.monitor(this.userRef);
  }

  /** Frames arrive as the user actor encoded them for a JSON device. */
  async handle(m: ConnMsg): Promise<void> {
    if (m.t !== 'out') return;
    let last = 0;
    for (const d of m.data) {
      const f = JSON.parse(typeof d === 'string' ? d : Buffer.from(d).toString('utf8')) as Record<string, unknown>;
      if (f.t === 'msg') await this.o.onMessage(f as unknown as BotMessage, this.bot);
      else this.o.onFrame?.(f, this.bot);
      if (typeof f.inbox === 'number') last = Math.max(last, f.inbox);
    }
    // Acknowledged once handled, like a client's automatic ack.
    if (last > 0) this.userRef.send({ t: 'ack', device: this.o.device, inbox: last, conn: this.ctx.self });
  }

  /** The user actor's thread restarted: register again and resume. */
  async info(): Promise<void> {
    await this.init(this.ctx);
  }

  terminate(): void {
    this.userRef.send({ t: 'disconnect', device: this.o.device, conn: this.ctx.self });
  }
}

export async function startBot(node: ParleyNode, o: BotOptions): Promise<Bot> {
  if (!isUser(o.user)) throw new ParleyError('bad_request', `bot user must be a valid user id, got ${JSON.stringify(o.user)}`);
  const device = o.device ?? 'bot';
  if (!isDevice(device)) throw new ParleyError('bad_request', `bot device must be a valid device id, got ${JSON.stringify(device)}`);
  const host = node.runtime.host;
  let ref: ActorRef | null = null;
  const bot: Bot = {
    user: o.user,
    async send(to, body, type = 'text') {
      const conv = to.startsWith('user:') ? dmConv(o.user, to.slice(5)) : to.startsWith('group:') ? `g:${to.slice(6)}` : null;
      if (conv === null || to === `user:${o.user}`) throw new ParleyError('bad_request', `send.to: ${JSON.stringify(to)} is not user:<u> or group:<g> (and not the bot itself)`);
      const r = await host.ref<ConvMsg>(`conv:${conv}`).call<Sent | DomainError>({ t: 'send', from: o.user, device, id: nanoid(), type, body });
      if (isError(r)) throw new ParleyError(r.error.code, r.error.message);
      return r;
    },
    async stop() {
      if (ref !== null) host.stopActor(ref);
    },
  };
  ref = await host.spawn(new BotDevice({ ...o, device }, bot), { name: `bot-${o.user}`.slice(0, 64) });
  return bot;
}
