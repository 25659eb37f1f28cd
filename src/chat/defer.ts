/**
 * Answers the call being handled when `p` settles, without holding up the
 * mailbox: the actor goes on with its next message meanwhile.
 */
import type { ActorContext } from '../actors/behaviour.js';

export function deferTo(ctx: ActorContext, p: Promise<unknown>): undefined {
  const reply = ctx.deferReply();
  if (reply !== null) p.then(reply.resolve, reply.reject);
  return undefined;
}
