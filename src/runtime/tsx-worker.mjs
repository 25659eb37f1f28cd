// Starts a scheduler worker from TypeScript sources (tests, `npm run bench`).
// Node 20 cannot load `.ts` in a Worker, even with `--import tsx` in execArgv,
// so the worker starts from this file, registers tsx, then imports the entry.
// A build (`dist/`) starts `worker-entry.js` directly and never uses this file.
import { register } from 'tsx/esm/api';
import { workerData } from 'node:worker_threads';

register();
await import(workerData.entry);
