// Bundles the CLI into one CommonJS file, dist/cli/railyard.cjs, which bin/railyard.cjs loads.
// Why one CommonJS file: node starts it fastest. Node's ESM loader costs per module, and splitting
// into chunks cost more than it saved; in CommonJS, esbuild turns the commands' lazy `import()`s
// (and the node built-ins those modules use) into code that runs only when a command needs it.
// Measured with `npm run bench` (section "cli"); see docs/decisions/21.
import { execFileSync } from "node:child_process";
import { build } from "esbuild";

// The commit `railyard --version` names: this checkout's HEAD, marked when it had changes.
function commit() {
  try {
    const git = (...a) =>
      execFileSync("git", a, { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] }).trim();
    return `${git("rev-parse", "--short=12", "HEAD")}${git("status", "--porcelain", "--untracked-files=no") ? "-dirty" : ""}`;
  } catch {
    return "unknown";
  }
}

await build({
  entryPoints: ["src/cli/main.ts"],
  outfile: "dist/cli/railyard.cjs",
  bundle: true,
  platform: "node",
  format: "cjs",
  target: "node20",
  // From node_modules, loaded only when needed: yaml for YAML configs, esbuild to compile a
  // script config that changed (see src/config/compile.ts).
  external: ["esbuild", "yaml"],
  // The bundle has no import.meta; util/package.ts finds package.json from this file's URL.
  define: {
    "import.meta.url": "__railyard_module_url",
    __RAILYARD_COMMIT__: JSON.stringify(commit()),
  },
  banner: {
    js: 'const __railyard_module_url = require("node:url").pathToFileURL(__filename).href;',
  },
  sourcemap: "linked",
  logLevel: "warning",
});
