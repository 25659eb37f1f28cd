export { Runtime, type RuntimeOptions, type RuntimeStats } from './runtime.js';
export { FaultHooks } from './faults.js';
export { defaultTable } from './scheduler-pool.js';
export type { ThreadEnv, ThreadModule, ThreadSetup } from './thread-module.js';
export type { ThreadStats } from './control.js';
