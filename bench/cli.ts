/**
 * railyard against its peers, measured side by side in one run: `npm run bench`.
 * Prints medians with min/max and ratios, and writes bench/results.json and bench/results.md.
 * Peers: bare runc, podman (with this host's settings), ldd; see bench/README.md.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { alternate, fmt, timeUntil, type Stats } from "./lib.js";
import {
  CLI,
  ENV,
  EXTRA_CA,
  RUNS,
  config,
  log,
  railyard,
  results,
  work,
  unique,
} from "./common.js";

export async function cliOverhead(): Promise<void> {
  log("\n## 2. CLI overhead: railyard run NAME of a built container, against bare runc");
  const json = config("cli", { hi: { args: ["/bin/busybox", "echo", "ready"] } });
  // The same container from a TypeScript config, the format the README leads with.
  const ts = join(work, "cli-ts/railyard.config.ts");
  mkdirSync(dirname(ts), { recursive: true });
  writeFileSync(
    ts,
    `import { defineConfig } from "railyard";\nexport default defineConfig({ stateDir: ${JSON.stringify(join(work, "state"))}, containers: { hi: { args: ["/bin/busybox", "echo", "ready"] } } });\n`,
  );
  railyard(["--config", json, "build", "hi"]);
  railyard(["--config", ts, "build", "hi"]);
  const bare = join(work, "bare");
  const run = (file: string, env: NodeJS.ProcessEnv) => () =>
    timeUntil(process.execPath, [CLI, "--config", file, "run", "hi"], { env });
  const peers: Record<string, () => Promise<number>> = {
    "railyard (json)": run(json, ENV),
    "railyard (ts)": run(ts, ENV),
    "bare runc": () => timeUntil("runc", ["run", "--bundle", bare, `bench-${unique()}`]),
    "node -e 0": () => timeUntil(process.execPath, ["-e", "0"], { env: ENV }),
  };
  if (EXTRA_CA) {
    peers["railyard (json), NODE_EXTRA_CA_CERTS"] = run(json, {
      ...ENV,
      NODE_EXTRA_CA_CERTS: EXTRA_CA,
    });
    peers["node -e 0, NODE_EXTRA_CA_CERTS"] = () =>
      timeUntil(process.execPath, ["-e", "0"], { env: { ...ENV, NODE_EXTRA_CA_CERTS: EXTRA_CA } });
  }
  const s = await alternate(peers, RUNS * 2);
  const b = s["bare runc"] as Stats;
  for (const [k, v] of Object.entries(s))
    log(`  ${k.padEnd(40)} ${fmt(v)}  minus bare runc ${(v.median - b.median).toFixed(1)} ms`);
  for (const kind of ["json", "ts"]) {
    const r = s[`railyard (${kind})`] as Stats;
    results.push({
      section: "cli",
      metric: `ms for a complete run (${kind === "ts" ? "TypeScript" : "JSON"} config)`,
      railyard: r,
      peers: { "bare runc": b, "node -e 0": s["node -e 0"] as Stats },
      goal: "within 100 ms of bare runc",
      met: r.median - b.median <= 100,
    });
  }
  const withCa = s["railyard (json), NODE_EXTRA_CA_CERTS"];
  if (withCa)
    results.push({
      section: "cli",
      metric: "ms for a complete run with this machine's NODE_EXTRA_CA_CERTS set",
      railyard: withCa,
      peers: {
        "bare runc": b,
        "node -e 0 with it": s["node -e 0, NODE_EXTRA_CA_CERTS"] as Stats,
      },
      goal: "(reported: node parses the CA file at startup, before railyard runs)",
      met: null,
    });
}
