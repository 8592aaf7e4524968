#!/usr/bin/env node
// The railyard command. Kept tiny: all logic lives in dist/src/cli/main.js (built by `npm run build`).
import { main } from "../dist/src/cli/main.js";

const code = await main(process.argv.slice(2), {
  stdout: (s) => process.stdout.write(s),
  stderr: (s) => process.stderr.write(s),
  env: process.env,
  cwd: process.cwd(),
});
process.exitCode = code;
