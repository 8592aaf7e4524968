/**
 * railyard against its peers, measured side by side in one run: `npm run bench`.
 * Prints medians with min/max and ratios, and writes bench/results.json and bench/results.md.
 * Peers: bare runc, podman (with this host's settings), ldd; see bench/README.md.
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { alternate, fmt, timeUntil, type Stats } from "./lib.js";
import { parsePorts } from "../src/model/parse.js";
import { pastaArgs } from "../src/rootless/pasta.js";
import { PASTA } from "../src/host/tools.js";
import { RUNS, log, railyard, ratio, results, work } from "./common.js";
import { PODMAN, podmanSetup, settle, unitCommands, unitPeer } from "./peers.js";

/**
 * What a network of its own adds to a start: the unit's network script (`up` before runc, `down`
 * after) for network private, a named network and container:NAME, each run as its unit does;
 * pasta's hook for a rootless private network; and podman's bridge network with a published port.
 */
export async function networkStart(): Promise<void> {
  log("\n## 8. network start cost: until the first output line, per network");
  const state = join(work, "netstate");
  const echo = ["/bin/busybox", "echo", "ready"];
  const file = join(work, "net.json");
  writeFileSync(
    file,
    JSON.stringify({
      stateDir: state,
      networks: { benchnet: {} },
      containers: {
        none: { args: echo },
        priv: { args: echo, network: "private", ports: ["127.0.0.1:18181:80"] },
        named: { args: echo, network: "benchnet", ports: ["127.0.0.1:18182:80"] },
        owner: {
          args: ["/bin/busybox", "sleep", "100000"],
          network: "private",
          stopSignal: "SIGKILL",
        },
        joiner: { args: echo, network: "container:owner" },
      },
    }),
  );
  const built = JSON.parse(railyard(["--config", file, "build", "--json"])) as { dir: string };
  symlinkSync(built.dir, join(state, "current"));
  mkdirSync("/run/railyard", { recursive: true });
  const unit = (name: string) => join(built.dir, `units/railyard-${name}.service`);
  // container:NAME joins a running owner's namespace: start it as its unit would, once.
  const owner = unitCommands(unit("owner"));
  // Its output is not read: the detached container keeps the pipe open while it runs.
  for (const [cmd, ...args] of [...owner.pre, owner.start])
    if (cmd) spawnSync(cmd, args, { env: owner.env, stdio: "ignore" });
  const ownerId = owner.start[owner.start.length - 1] ?? "";
  const peers: Record<string, () => Promise<number>> = {
    "network none": unitPeer(unit("none"), "ready"),
    "network private": unitPeer(unit("priv"), "ready"),
    "named network": unitPeer(unit("named"), "ready"),
    "container:owner": unitPeer(unit("joiner"), "ready"),
  };
  // pasta, with the arguments a rootless container's hook gives it, connecting a namespace of its
  // own (root here: the bench runs as root, and runc's init may be joined only by its user), and
  // the same namespace without it: what the hook adds to a rootless start.
  if (existsSync(PASTA)) {
    const published = parsePorts("127.0.0.1:18183:80");
    const [, ...pasta] = pastaArgs({ ports: published.ok ? published.value : [] });
    peers["pasta (rootless private)"] = () =>
      timeUntil(PASTA, ["--runas", "0", ...pasta, "--", ...echo], { marker: "ready" });
    peers["unshare --user --net"] = () =>
      timeUntil("unshare", ["--user", "--map-root-user", "--net", ...echo], { marker: "ready" });
  }
  let podmanBridge: string | undefined;
  if (podmanSetup()) {
    const args = [
      ...PODMAN,
      "run",
      "--rm",
      "--network",
      "bridge",
      "-p",
      "127.0.0.1:18184:80",
      "localhost/bb",
      ...echo,
    ];
    const trial = spawnSync("podman", args, { encoding: "utf8" });
    if (trial.status === 0)
      peers["podman run, bridge and -p"] = async () => {
        const t = await timeUntil("podman", args, { marker: "ready" });
        await settle(join(work, "podman/storage"));
        return t;
      };
    else podmanBridge = `unavailable: ${trial.stderr.trim().split("\n").pop() ?? ""}`;
  }
  try {
    const s = await alternate(peers, RUNS * 2);
    const r = s["network private"] as Stats;
    const none = s["network none"] as Stats;
    for (const [k, v] of Object.entries(s))
      log(
        `  ${k.padEnd(30)} ${fmt(v)}  +${(v.median - none.median).toFixed(1)} ms over none${k === "network private" ? "" : `  private/peer ${ratio(r, v).toFixed(2)}x`}`,
      );
    const podmanStats = s["podman run, bridge and -p"];
    results.push({
      section: "network",
      metric: "ms to first output line with network private (the unit's own commands)",
      railyard: r,
      peers: {
        "network none": none,
        "named network": s["named network"] as Stats,
        "container:owner": s["container:owner"] as Stats,
        "pasta (rootless private)": s["pasta (rootless private)"] ?? "pasta not installed",
        "unshare --user --net": s["unshare --user --net"] ?? "pasta not installed",
        "podman run, bridge and -p": podmanStats ?? podmanBridge ?? "podman not installed",
      },
      goal: "at least 3x faster than podman run with a bridge network and -p",
      met: podmanStats ? ratio(podmanStats, r) >= 3 : null,
      note: `added over network none: private +${(r.median - none.median).toFixed(0)} ms, named +${((s["named network"] as Stats).median - none.median).toFixed(0)} ms (its only member: the bridge too), container: +${((s["container:owner"] as Stats).median - none.median).toFixed(0)} ms; pasta +${s["pasta (rootless private)"] && s["unshare --user --net"] ? ((s["pasta (rootless private)"] as Stats).median - (s["unshare --user --net"] as Stats).median).toFixed(0) : "?"} ms over its bare namespace`,
    });
  } finally {
    spawnSync("runc", ["delete", "--force", ownerId]);
    for (const [cmd, ...args] of owner.postStop) if (cmd) spawnSync(cmd, args, { env: owner.env });
  }
}
