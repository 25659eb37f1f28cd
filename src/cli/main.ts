/**
 * `parley start [--host H] [--port P] [--data DIR] [--workers N] [--config FILE]`
 *
 * Starts a node: HTTP and WebSocket on 127.0.0.1:8080 by default, LevelDB
 * under ./data, no other server needed. Settings come from the defaults, the
 * config file (JSON), PARLEY_* environment variables and the flags, each
 * later one winning (see src/server/config.ts). SIGINT/SIGTERM stop it
 * gracefully; a second signal exits at once.
 */
import { parseArgs } from 'node:util';
import { createNode } from '../server/node.js';
import { configFromEnv, mergeConfig, readConfigFile, type ConfigInput } from '../server/config.js';

const USAGE = `usage: parley start [--host H] [--port P] [--data DIR] [--workers N] [--config FILE] [--faults]

  --host     address to listen on (default 127.0.0.1, env PARLEY_HOST)
  --port     port (default 8080, env PARLEY_PORT)
  --data     data directory, LevelDB lives here (default ./data, env PARLEY_DATA)
  --workers  scheduler threads (default: available cores, env PARLEY_WORKERS)
  --config   JSON config file (every setting, see docs/operations.md)
  --faults   enable the fault-injection hooks (tests only)`;

export async function main(argv: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        host: { type: 'string' },
        port: { type: 'string' },
        data: { type: 'string' },
        workers: { type: 'string' },
        config: { type: 'string' },
        faults: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (e) {
    process.stderr.write(`${(e as Error).message}\n${USAGE}\n`);
    return 2;
  }
  const { values, positionals } = parsed;
  if (values.help || positionals[0] !== 'start') {
    process.stdout.write(USAGE + '\n');
    return values.help ? 0 : 2;
  }
  const num = (name: string, v: string | undefined): number | undefined => {
    if (v === undefined) return undefined;
    const n = Number(v);
    if (!Number.isInteger(n)) throw new Error(`--${name} must be an integer, got ${v}`);
    return n;
  };
  let node;
  try {
    const file: ConfigInput = values.config ? readConfigFile(values.config) : {};
    const flags: ConfigInput = {
      host: values.host,
      port: num('port', values.port),
      data: values.data,
      workers: num('workers', values.workers),
      faults: values.faults,
    };
    node = await createNode(mergeConfig(file, configFromEnv(), flags));
    await node.start();
  } catch (e) {
    process.stderr.write(`parley: ${(e as Error).message}\n`);
    return 1;
  }
  const n = node;
  process.stdout.write(`parley ${n.config.node} listening on ${n.url} (ws ${n.url.replace(/^http/, 'ws')}/v1/ws), data in ${n.config.data}, ${n.runtime.workers} scheduler threads\n`);
  if (n.metricsUrl !== '') process.stdout.write(`parley metrics on ${n.metricsUrl}/metrics\n`);
  return await new Promise<number>((resolve) => {
    let stopping = false;
    const stop = (sig: string): void => {
      if (stopping) {
        process.stderr.write(`parley: ${sig} again, exiting now\n`);
        process.exit(1);
      }
      stopping = true;
      process.stdout.write(`parley: ${sig}, stopping (in-flight work finishes, store flushes)\n`);
      n.stop().then(
        () => {
          process.stdout.write('parley: stopped\n');
          resolve(0);
        },
        (e) => {
          process.stderr.write(`parley: stop failed: ${(e as Error).message}\n`);
          resolve(1);
        },
      );
    };
    process.on('SIGINT', () => stop('SIGINT'));
    process.on('SIGTERM', () => stop('SIGTERM'));
    n.runtime.on('down', () => {
      process.stderr.write('parley: the supervision tree gave up; exiting\n');
      resolve(1);
    });
  });
}
