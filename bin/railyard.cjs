#!/usr/bin/env node
// The railyard command. Kept tiny: all logic is in the bundle dist/cli/railyard.cjs, built by
// `npm run build` from src/cli/main.ts (see scripts/bundle.mjs for why it is one CommonJS file).
"use strict";
const { main } = require("../dist/cli/railyard.cjs");

// If node runs out of work before main settles (something awaited can never happen), it would
// exit 0 with no output: say so, and fail.
let settled = false;
process.on("exit", () => {
  if (settled) return;
  process.stderr.write(
    "railyard: stopped before finishing: it waited for something that never happens\n",
  );
  process.exitCode = 70;
});

main(process.argv.slice(2), {
  stdout: (s) => process.stdout.write(s),
  stderr: (s) => process.stderr.write(s),
  env: process.env,
  cwd: process.cwd(),
}).then((code) => {
  settled = true;
  process.exitCode = code;
});
