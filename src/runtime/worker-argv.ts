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
 * - `REFUSED`: dropped. Every Node option (of `process.allowedNodeEnvironmentFlags`
 *   and `node --help`) that a worker refuses by name, found by trying each
 *   in a worker on Node 20.20.2; test/runtime/worker-argv.test.ts checks
 *   that this Node still refuses each, so the list drops nothing a worker
 *   would take;
 * - `COMMANDS`: dropped. They say what the main process runs (`--eval`,
 *   `--test…`, `--watch`), not how a thread runs;
 * - Node's options (those NODE_OPTIONS accepts, and `NODE_ONLY`, which it
 *   does not but a worker does, such as `--cpu-prof`): kept, e.g. `--import`,
 *   `--require`, `--conditions`, warnings, source maps, inspector, profilers;
 * - anything else is V8's own (`--stack-size`, `--allow-natives-syntax`,
 *   `--trace-gc`): dropped.
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
  // main-process only, refused too
  'completion-bash',
  'experimental-sea-config',
  'help',
  'prof',
  'tls-max-v1',
  'tls-min-v1',
  'v8-options',
  'version',
]);

/** Options about what the main process runs; a worker takes some of them, but they mean nothing there. */
const COMMANDS: ReadonlySet<string> = new Set(['build-snapshot', 'build-snapshot-config', 'c', 'check', 'e', 'eval', 'i', 'interactive', 'p', 'print', 'watch', 'watch-path', 'watch-preserve-output']);

/** Node's own options that NODE_OPTIONS refuses but a worker accepts. */
const NODE_ONLY: ReadonlySet<string> = new Set(['cpu-prof', 'cpu-prof-dir', 'cpu-prof-interval', 'cpu-prof-name', 'env-file', 'env-file-if-exists', 'experimental-network-inspection']);

/** `--no-max_old_space_size=64` → `max-old-space-size`. */
function flagName(flag: string): string {
  const eq = flag.indexOf('=');
  let name = (eq < 0 ? flag : flag.slice(0, eq)).replace(/^-+/, '').replace(/_/g, '-');
  if (name.startsWith('no-')) name = name.slice(3);
  return name;
}

function accepted(flag: string): boolean {
  const name = flagName(flag);
  if (REFUSED.has(name) || COMMANDS.has(name) || name.startsWith('test') || name.startsWith('experimental-test')) return false;
  return NODE_ONLY.has(name) || process.allowedNodeEnvironmentFlags.has(flag);
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
