/**
 * Client protocol v1 (docs/protocol.md): identifiers, error codes, the
 * connection's subprotocols and close codes, the frames in both directions,
 * and the server's codecs. It sits below the server, the chat actors and
 * the client, and imports none of them.
 *
 * This index loads everything, TypeBox's compiled frame checks included.
 * Code that must stay light (the client, the chat actors on the scheduler
 * threads) imports the one module it needs: `ids.js`, `errors.js` and
 * `connection.js` have no dependencies, and the frame modules are
 * imported for their types only.
 */
export * from './ids.js';
export * from './errors.js';
export * from './connection.js';
export * from './client-frames.js';
export * from './server-frames.js';
export * from './codec.js';
