#!/usr/bin/env node
// Hookline CLI entry: runs the compiled CLI (`npm run build` or `npm ci` + `npm start` compile it first).
import { existsSync } from 'node:fs';
const main = new URL('../dist/src/cli/main.js', import.meta.url);
if (!existsSync(main)) {
  process.stderr.write('hookline: not built yet; run `npm run build` first\n');
  process.exit(1);
}
const { cli } = await import(main.href);
process.exitCode = await cli(process.argv.slice(2));
