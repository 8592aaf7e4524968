#!/usr/bin/env node
// The railyard command. Kept tiny: all logic is in the bundle dist/cli/railyard.cjs, built by
// `npm run build` from src/cli/main.ts (see scripts/bundle.mjs for why it is one CommonJS file).
"use strict";
const { main } = require("../dist/cli/railyard.cjs");

main(process.argv.slice(2), {
  stdout: (s) => process.stdout.write(s),
  stderr: (s) => process.stderr.write(s),
  env: process.env,
  cwd: process.cwd(),
}).then((code) => {
  process.exitCode = code;
});
