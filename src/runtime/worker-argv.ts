/**
 * The `execArgv` of a scheduler worker: the main process's flags, minus the
 * ones a worker thread refuses.
 *
 * `new Worker` throws ERR_WORKER_INVALID_EXEC_ARGV for any flag that is not
 * a Node option scoped to one thread. Node's docs: "V8 options (such as
 * `--max-old-space-size`) and options that affect the process (such as
 * `--title`) are not supported." So one `node --expose-gc` or
 * `node --max-old-space-size=4096` in front of the runtime would stop every
 * scheduler from starting.
 *
 * Rules, in order:
 * - the test runner's flags (`--test…`) are for the main process: dropped;
 * - `REFUSED` below: dropped. It lists every flag that Node accepts in
 *   NODE_OPTIONS but a worker refuses by name, found by trying each flag of
 *   `process.allowedNodeEnvironmentFlags` in a worker (Node 20.20.2);
 *   test/runtime/worker-argv.test.ts checks that this Node still refuses each;
 * - a flag Node does not accept in NODE_OPTIONS at all is V8's own
 *   (`--stack-size`, `--allow-natives-syntax`, `--trace-gc`) or a command of
 *   the main process (`--eval`, `--watch`): dropped;
 * - everything else is kept (loaders and conditions such as `--import`,
 *   `--require`, `--conditions`; warnings, source maps, inspector, profilers).
 * A flag's value given as the next token goes (or stays) with its flag.
 *
 * Dropped flags still govern the main thread. A worker's heap limit is its
 * `resourceLimits` (the runtime's `resourceLimits` option), never the
 * process's `--max-old-space-size`.
 */

/** Flags (without `--`, `--no-` or a value; dashes, not underscores) a worker refuses. */
export const REFUSED: ReadonlySet<string> = new Set([
  // V8 options
  'abort-on-uncaught-exception',
  'disable-wasm-trap-handler',
  'disallow-code-generation-from-strings',
  'enable-etw-stack-walking',
  'experimental-shadow-realm',
  'expose-gc',
  'harmony-shadow-realm',
  'huge-max-old-generation-size',
  'interpreted-frames-native-stack',
  'jitless',
  'max-old-space-size',
  'max-semi-space-size',
  'perf-basic-prof',
  'perf-basic-prof-only-functions',
  'perf-prof',
  'perf-prof-unwinding-info',
  'stack-trace-limit',
  // options of the whole process
  'debug-arraybuffer-allocations',
  'disable-proto',
  'enable-fips',
  'force-fips',
  'icu-data-dir',
  'node-memory-debug',
  'node-snapshot',
  'openssl-config',
  'openssl-legacy-provider',
  'openssl-shared-config',
  'report-compact',
  'report-dir',
  'report-directory',
  'report-filename',
  'report-on-fatalerror',
  'secure-heap',
  'secure-heap-min',
  'snapshot-blob',
  'title',
  'tls-cipher-list',
  'trace-event-categories',
  'trace-event-file-pattern',
  'trace-events-enabled',
  'trace-sigint',
  'use-bundled-ca',
  'use-largepages',
  'use-openssl-ca',
  'v8-pool-size',
  'zero-fill-buffers',
]);

/** `--no-max_old_space_size=64` → `max-old-space-size`. */
function flagName(flag: string): string {
  const eq = flag.indexOf('=');
  let name = (eq < 0 ? flag : flag.slice(0, eq)).replace(/^-+/, '').replace(/_/g, '-');
  if (name.startsWith('no-')) name = name.slice(3);
  return name;
}

function accepted(flag: string): boolean {
  if (flag.startsWith('--test')) return false;
  if (REFUSED.has(flagName(flag))) return false;
  return process.allowedNodeEnvironmentFlags.has(flag);
}

/** The flags of `argv` (a process's `execArgv`) that a worker thread accepts, in order. */
export function workerExecArgv(argv: readonly string[]): string[] {
  const out: string[] = [];
  let keep = true;
  for (const a of argv) {
    // In execArgv every token is a flag or the value of the flag before it.
    if (a.startsWith('-')) keep = accepted(a);
    if (keep) out.push(a);
  }
  return out;
}
