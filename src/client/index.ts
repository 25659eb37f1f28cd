export * from './frames.js';
export * from './codec.js';
export * from './errors.js';
export * from './backoff.js';
export * from './options.js';
export * from './socket.js';
export * from './client.js';
export * from './http.js';
