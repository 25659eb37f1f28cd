#!/usr/bin/env node
// The `parley` command. Runs the build in dist/ (made by `npm install`, which
// runs `prepare`); in a checkout without a build it runs the TypeScript
// sources through tsx instead.
import { existsSync } from 'node:fs';

const built = new URL('../dist/cli/main.js', import.meta.url);
let mod;
if (existsSync(built)) {
  mod = await import(built.href);
} else {
  const { register } = await import('tsx/esm/api');
  register();
  mod = await import(new URL('../src/cli/main.ts', import.meta.url).href);
}
process.exit(await mod.main(process.argv.slice(2)));
