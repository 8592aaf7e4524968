/**
 * railyard against its peers, measured side by side in one run: `npm run bench`.
 * Prints medians with min/max and ratios, and writes bench/results.json and bench/results.md.
 * Peers: bare runc, podman (with this host's settings), ldd; see bench/README.md.
 */
import { execFileSync, spawnSync } from "node:child_process";
import {
  chmodSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { cpus, totalmem } from "node:os";
import { dirname, join, resolve } from "node:path";
import { alternate, fmt, ms, timeUntil, type Stats } from "./lib.js";
import { parsePorts } from "../src/model/parse.js";
import { pastaArgs } from "../src/rootless/pasta.js";
import { PASTA } from "../src/host/tools.js";

const REPO = resolve(new URL(".", import.meta.url).pathname, "../..");
const CLI = join(REPO, "bin/railyard.cjs");
const RUNS = Number(process.env["BENCH_RUNS"] ?? 15);
// Lowercase only: podman names an image pulled from an OCI layout after the layout's path.
const work = `/var/tmp/railyard-bench-${process.pid}`;
mkdirSync(work, { recursive: true });
const results: Row[] = [];

interface Row {
  readonly section: string;
  readonly metric: string;
  readonly railyard: Stats;
  readonly peers: Record<string, Stats | string>;
  readonly goal: string;
  readonly met: boolean | null;
  readonly note?: string;
}

/**
 * This machine sets NODE_EXTRA_CA_CERTS, which makes node parse a CA bundle before running any code
 * (about 50 ms here). A Debian host does not set it, so railyard runs without it; the cli section
 * also measures it with the variable, and reports that separately.
 */
const EXTRA_CA = process.env["NODE_EXTRA_CA_CERTS"];
const ENV: NodeJS.ProcessEnv = { ...process.env, RAILYARD_CONFIG: "" };
delete ENV["NODE_EXTRA_CA_CERTS"];
const railyard = (args: string[]) =>
  execFileSync(process.execPath, [CLI, ...args], { encoding: "utf8", env: ENV });
const log = (s: string) => process.stdout.write(`${s}\n`);
const ratio = (a: Stats, b: Stats) => a.median / b.median;

function config(name: string, containers: Record<string, unknown>): string {
  const file = join(work, `${name}.json`);
  writeFileSync(file, JSON.stringify({ stateDir: join(work, "state"), containers }));
  return file;
}

/** A hand-made runc bundle: `runc spec` plus busybox, the way a person would do it. */
function bareBundle(): string {
  const b = join(work, "bare");
  mkdirSync(join(b, "rootfs/bin"), { recursive: true });
  copyFileSync("/bin/busybox", join(b, "rootfs/bin/busybox"));
  chmodSync(join(b, "rootfs/bin/busybox"), 0o755);
  execFileSync("runc", ["spec"], { cwd: b });
  const spec = JSON.parse(readFileSync(join(b, "config.json"), "utf8")) as {
    process: { terminal: boolean; args: string[] };
  };
  spec.process.terminal = false;
  spec.process.args = ["/bin/busybox", "echo", "ready"];
  writeFileSync(join(b, "config.json"), JSON.stringify(spec));
  return b;
}

let podmanReady: string | undefined;
function podmanSetup(): string | undefined {
  if (podmanReady !== undefined) return podmanReady;
  if (spawnSync("podman", ["--version"]).status !== 0) return undefined;
  const conf = join(work, "containers.conf");
  writeFileSync(
    conf,
    '[containers]\ndefault_ulimits = []\n[engine]\ncgroup_manager = "cgroupfs"\nruntime = "runc"\n',
  );
  process.env["CONTAINERS_CONF"] = conf;
  // A busybox image, built with umoci, pulled into podman's own storage from its OCI layout.
  const layout = join(work, "layout");
  execFileSync("umoci", ["init", "--layout", layout]);
  execFileSync("umoci", ["new", "--image", `${layout}:bb`]);
  const bundle = join(work, "umoci-bundle");
  execFileSync("umoci", ["unpack", "--image", `${layout}:bb`, bundle]);
  mkdirSync(join(bundle, "rootfs/bin"), { recursive: true });
  copyFileSync("/bin/busybox", join(bundle, "rootfs/bin/busybox"));
  execFileSync("umoci", ["repack", "--image", `${layout}:bb`, bundle]);
  podmanReady = join(work, "podman");
  const id = podman(["pull", "-q", `oci:${layout}:bb`]).trim();
  podman(["tag", id, "localhost/bb"]);
  return podmanReady;
}
/** podman with its own vfs storage in the work dir (no overlay mounts to leave behind). */
const PODMAN = [
  "--storage-driver",
  "vfs",
  "--root",
  join(work, "podman/storage"),
  "--runroot",
  join(work, "podman/run"),
];
const podman = (args: string[]) =>
  execFileSync("podman", [...PODMAN, ...args], {
    encoding: "utf8",
  });

let n = 0;

/** Wait until no process mentions `needle` on its command line (podman's detached cleanup). */
async function settle(needle: string, timeoutMs = 5000): Promise<void> {
  const t0 = Date.now();
  const busy = () =>
    readdirSync("/proc")
      .filter((p) => /^\d+$/.test(p) && Number(p) !== process.pid)
      .some((p) => {
        try {
          return readFileSync(`/proc/${p}/cmdline`, "utf8").includes(needle);
        } catch {
          return false; // gone meanwhile
        }
      });
  while (busy() && Date.now() - t0 < timeoutMs) await new Promise((r) => setTimeout(r, 20));
}

/**
 * One Exec line's argv as systemd splits it: words, double-quoted words with backslash escapes,
 * and `$$`/`%%` for a literal `$`/`%` (the quoting execQuote writes).
 */
function execWords(line: string): string[] {
  const words: string[] = [];
  for (const m of line.matchAll(/"((?:[^"\\]|\\.)*)"|(\S+)/g)) {
    const w =
      m[1] !== undefined
        ? m[1].replace(/\\(.)/g, (_, c: string) => (c === "n" ? "\n" : c))
        : (m[2] ?? "");
    words.push(w.replace(/\$\$/g, "$").replace(/%%/g, "%"));
  }
  return words;
}

/** A unit's Environment= and its ExecStartPre=, ExecStart= and ExecStopPost= argvs, in order. */
function unitCommands(unitFile: string): {
  env: NodeJS.ProcessEnv;
  pre: string[][];
  start: string[];
  postStop: string[][];
} {
  const text = readFileSync(unitFile, "utf8");
  const lines = (key: string) =>
    [...text.matchAll(new RegExp(`^${key}=-?(.*)$`, "gm"))].map((m) => execWords(m[1] ?? ""));
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const kv of lines("Environment").flat())
    env[kv.slice(0, kv.indexOf("="))] = kv.slice(kv.indexOf("=") + 1);
  return {
    env,
    pre: lines("ExecStartPre"),
    start: lines("ExecStart")[0] ?? [],
    postStop: lines("ExecStopPost"),
  };
}

/** Run a unit as systemd would, timed until `marker`: ExecStartPre=, ExecStart=; then stop. */
function unitPeer(unitFile: string, marker: string): () => Promise<number> {
  const unit = unitCommands(unitFile);
  const [startCmd, ...startArgs] = unit.start;
  if (!startCmd || unit.postStop.length === 0)
    throw new Error(`unexpected unit ${unitFile}: no ExecStart= or ExecStopPost=`);
  return async () => {
    const t0 = process.hrtime.bigint();
    for (const [cmd, ...args] of unit.pre) if (cmd) spawnSync(cmd, args, { env: unit.env });
    const t = ms(t0) + (await timeUntil(startCmd, startArgs, { marker }));
    // ExecStopPost=, after the measurement as under systemd.
    for (const [cmd, ...args] of unit.postStop) if (cmd) spawnSync(cmd, args, { env: unit.env });
    return t;
  };
}

async function startLatency(): Promise<void> {
  log("\n## 1. start latency: until the container's first output line (busybox echo)");
  const state = join(work, "state");
  // The same busybox as a host program and as an image (whose writable root is an overlay that
  // the unit mounts before runc and unmounts after it).
  const layout = podmanSetup() ? join(work, "layout") : undefined;
  // And with an env file, which the unit reads at start (one awk run composes the config).
  const envFile = join(work, "start.env");
  writeFileSync(envFile, "TOKEN=t0k3n\nREGION=eu\n", { mode: 0o600 });
  const cfg = config("start", {
    hello: { args: ["/bin/busybox", "echo", "ready"] },
    envd: { args: ["/bin/busybox", "echo", "ready"], environmentFiles: [envFile] },
    ...(layout
      ? {
          img: {
            image: "localhost/bench/bb:1",
            imageFile: `oci:${layout}:bb`,
            entrypoint: ["/bin/busybox", "echo", "ready"],
          },
        }
      : {}),
  });
  const built = JSON.parse(railyard(["--config", cfg, "build", "--json"])) as { dir: string };
  // What `switch` does besides systemctl: point current at the generation. Then run exactly the
  // commands of the generated unit, as systemd would: ExecStartPre=, then ExecStart=.
  symlinkSync(built.dir, join(state, "current"));
  mkdirSync("/run/railyard", { recursive: true });
  const bare = bareBundle();
  const peers: Record<string, () => Promise<number>> = {
    railyard: unitPeer(join(built.dir, "units/railyard-hello.service"), "ready"),
    "bare runc": () =>
      timeUntil("runc", ["run", "--bundle", bare, `bench-${n++}`], { marker: "ready" }),
  };
  peers["railyard with an env file"] = unitPeer(
    join(built.dir, "units/railyard-envd.service"),
    "ready",
  );
  if (layout)
    peers["railyard image (overlay root)"] = unitPeer(
      join(built.dir, "units/railyard-img.service"),
      "ready",
    );
  if (podmanSetup())
    peers["podman run"] = async () => {
      const t = await timeUntil(
        "podman",
        [
          ...PODMAN,
          "run",
          "--rm",
          "--network",
          "none",
          "localhost/bb",
          "/bin/busybox",
          "echo",
          "ready",
        ],
        { marker: "ready" },
      );
      // conmon starts a podman cleanup process after the container exits; let it finish
      // (unmeasured) so that it does not run during the next peer's measurement.
      await settle(join(work, "podman/storage"));
      return t;
    };
  const s = await alternate(peers, RUNS * 3);
  const r = s["railyard"] as Stats;
  const goalRunc = ratio(r, s["bare runc"] as Stats) <= 1.15;
  const goalPodman = s["podman run"] ? ratio(s["podman run"] as Stats, r) >= 5 : null;
  for (const [k, v] of Object.entries(s))
    log(
      `  ${k.padEnd(30)} ${fmt(v)}${k === "railyard" ? "" : `  railyard/peer ${ratio(r, v).toFixed(2)}x`}`,
    );
  results.push({
    section: "start",
    metric: "ms to first output line (the unit's own ExecStart)",
    railyard: r,
    peers: {
      "bare runc": s["bare runc"] as Stats,
      "railyard with an env file": s["railyard with an env file"] as Stats,
      "railyard image (overlay root)": s["railyard image (overlay root)"] ?? "podman not installed",
      "podman run": s["podman run"] ?? "podman not installed",
    },
    goal: "within 1.15x of bare runc; at least 5x faster than podman run",
    met: goalRunc && goalPodman !== false,
  });
}

/**
 * What a network of its own adds to a start: the unit's network script (`up` before runc, `down`
 * after) for network private, a named network and container:NAME, each run as its unit does;
 * pasta's hook for a rootless private network; and podman's bridge network with a published port.
 */
async function networkStart(): Promise<void> {
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

async function cliOverhead(): Promise<void> {
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
    "bare runc": () => timeUntil("runc", ["run", "--bundle", bare, `bench-${n++}`]),
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

async function closure(): Promise<void> {
  log("\n## 6. closure of /usr/bin/python3, against ldd");
  const { computeClosure } = await import("../src/closure/index.js");
  const { hostFs } = await import("../src/closure/fs.js");
  const time = (f: () => unknown) => async () => {
    const t = process.hrtime.bigint();
    f();
    return ms(t);
  };
  const s = await alternate(
    {
      "railyard elf": time(() => computeClosure("/usr/bin/python3", { fs: hostFs(), mode: "elf" })),
      "railyard packages": time(() =>
        computeClosure("/usr/bin/python3", { fs: hostFs(), mode: "packages", arch: "amd64" }),
      ),
      ldd: () => timeUntil("ldd", ["/usr/bin/python3"]),
    },
    RUNS,
  );
  for (const [k, v] of Object.entries(s)) log(`  ${k.padEnd(18)} ${fmt(v)}`);
  for (const mode of ["elf", "packages"])
    results.push({
      section: "closure",
      metric: `ms for python3 (${mode})`,
      railyard: s[`railyard ${mode}`] as Stats,
      peers: { ldd: s["ldd"] as Stats },
      goal: "(no goal: reported)",
      met: null,
    });
}

async function memory(): Promise<void> {
  log("\n## 5. memory held besides the container's own processes, per idle container");
  const out = execFileSync(
    process.execPath,
    [join(REPO, "dist/bench/supervision-memory.js"), "20"],
    { encoding: "utf8", cwd: REPO },
  );
  const kib = Number(/: ([\d.]+) KiB per container/.exec(out)?.[1] ?? NaN);
  let conmon: string | Stats = "podman not installed";
  if (podmanSetup()) {
    const id = podman([
      "run",
      "-d",
      "--network",
      "none",
      "localhost/bb",
      "/bin/busybox",
      "sleep",
      "1000",
    ]).trim();
    const pid = Number(podman(["inspect", "--format", "{{.State.ConmonPid}}", id]).trim());
    const rss = Number(
      /VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1] ?? NaN,
    );
    podman(["rm", "-f", "-t", "0", id]);
    conmon = { median: rss, min: rss, max: rss, runs: 1 };
  }
  log(
    `  railyard   ${kib} KiB (0 daemons, no process outside the container)\n  podman     conmon ${typeof conmon === "string" ? conmon : `${conmon.median} KiB`}\n  docker     not measured: no docker engine runs on this machine`,
  );
  results.push({
    section: "memory",
    metric: "KiB per idle container (RSS outside the container)",
    railyard: { median: kib, min: kib, max: kib, runs: 1 },
    peers: {
      "podman conmon": conmon,
      "dockerd+containerd": "not measured: no docker engine on this machine",
    },
    goal: "0 daemons; at most 1 MB per container",
    met: kib <= 1024,
    note: out.trim().split("\n").pop() ?? "",
  });
}

async function switchBench(): Promise<void> {
  log("\n## 4. switch of 100 services under a real systemd (in a namespace)");
  const { bootSystemd } = await import("../tests/helpers/systemd.js");
  const sd = await bootSystemd(join(work, "ns"), [work]);
  try {
    const file = join(work, "switch.json");
    const svc = (msg: string) => ({
      args: [
        "/bin/busybox",
        "sh",
        "-c",
        `trap 'exit 0' TERM; echo ${msg}; while :; do sleep 60; done`,
      ],
    });
    /** s0 says `changed`; the others say their name, and `all` after it when given. */
    const write = (changed: string, all = "") =>
      writeFileSync(
        file,
        JSON.stringify({
          stateDir: join(work, "sw-state"),
          runtime: "runc",
          containers: Object.fromEntries(
            Array.from({ length: 100 }, (_, i) => [
              `s${i}`,
              svc(i === 0 ? changed : `s${i}${all}`),
            ]),
          ),
        }),
      );
    const timed = async (args: string[]) => {
      const t = process.hrtime.bigint();
      const r = await sd.railyard(args);
      if (r.code !== 0) throw new Error(r.stderr);
      return { ms: ms(t), out: r.stdout };
    };
    write("v0");
    // The activation itself: --settle 0 leaves out the fixed wait (3 s by default) in which
    // switch watches what it started.
    const first = await timed(["--config", file, "switch", "--json", "--settle", "0"]);
    const noops: number[] = [];
    const changed: number[] = [];
    let restartsNoop = 0;
    let restartsChanged = 0;
    for (let i = 0; i < 5; i++) {
      const a = await timed(["--config", file, "switch", "--json", "--settle", "0"]);
      noops.push(a.ms);
      restartsNoop += (JSON.parse(a.out) as { plan: { restart: string[] } }).plan.restart.length;
      write(`v${i + 1}`);
      const b = await timed(["--config", file, "switch", "--json", "--settle", "0"]);
      changed.push(b.ms);
      restartsChanged = Math.max(
        restartsChanged,
        (JSON.parse(b.out) as { plan: { restart: string[] } }).plan.restart.length,
      );
    }
    // Settling: all 100 restarted, then watched for the default 3 s, all at once; against the
    // same switch with --settle 0. The difference should be one settle time, not 100.
    const bare: number[] = [];
    const settled: number[] = [];
    for (let i = 0; i < 3; i++) {
      write("v9", `-bare${i}`);
      bare.push((await timed(["--config", file, "switch", "--json", "--settle", "0"])).ms);
      write("v9", `-settled${i}`);
      settled.push((await timed(["--config", file, "switch", "--json"])).ms);
    }
    const { stats } = await import("./lib.js");
    const noop = stats(noops);
    const one = stats(changed);
    const withSettle = stats(settled);
    const without = stats(bare);
    const overhead = withSettle.median - without.median;
    log(
      `  first switch (100 start)  ${first.ms.toFixed(0)} ms\n  no-op switch              ${fmt(noop)}, ${restartsNoop} restarts\n  1 of 100 changed          ${fmt(one)}, ${restartsChanged} restarted\n` +
        `  100 restarted, settle 3 s ${fmt(withSettle)}\n  100 restarted, settle 0   ${fmt(without)}\n  settling costs            ${overhead.toFixed(0)} ms (one 3 s settle time, not 100)`,
    );
    results.push({
      section: "switch",
      metric: "ms, 100 of 100 restarted with the default 3 s settle",
      railyard: withSettle,
      peers: { "railyard --settle 0": without },
      goal: "settling adds under 4 s (one settle time plus polling), not 100 × 3 s",
      met: overhead < 4000,
    });
    results.push({
      section: "switch",
      metric: "ms, first switch of 100 services",
      railyard: { median: first.ms, min: first.ms, max: first.ms, runs: 1 },
      peers: {},
      goal: "(reported)",
      met: null,
    });
    results.push({
      section: "switch",
      metric: "ms, no-op switch of 100 services",
      railyard: noop,
      peers: {},
      goal: "under 0.5 s with 0 restarts",
      met: noop.median < 500 && restartsNoop === 0,
    });
    results.push({
      section: "switch",
      metric: "ms, 1 of 100 changed",
      railyard: one,
      peers: {},
      goal: "restarts exactly 1",
      met: restartsChanged === 1,
    });
  } finally {
    await sd.stop();
  }
}

/** Host directories that make the 5 layers of the pull benchmark (about 200 MB of real files). */
const PULL_LAYERS = [
  ["/bin/busybox"],
  ["/usr/lib/python3.11"],
  ["/usr/share/perl", "/usr/lib/x86_64-linux-gnu/perl"],
  ["/usr/lib/gcc"],
  ["/usr/share/zoneinfo", "/usr/share/mime"],
];

const pullLayout = join(work, "pull-layout");
/** When the pull image was built: its build deletes big trees, whose shadow must pass first. */
let pullLayoutBuilt = 0;

/**
 * Build the pull section's image with umoci. Done before the other sections: umoci's unpack and
 * repack of each layer delete up to 230 MB of files, and on this disk that slows every file
 * creation for about a minute (see bench/README.md).
 */
async function buildPullImage(): Promise<void> {
  const { buildImage } = await import("../tests/helpers/registry.js");
  const layers = PULL_LAYERS.map((paths) => paths.filter((p) => existsSync(p)));
  buildImage(
    pullLayout,
    "big",
    {
      layers: layers.map(
        (paths) => (r: string) =>
          paths.forEach((p) => {
            mkdirSync(join(r, dirname(p)), { recursive: true });
            execFileSync("cp", ["-a", p, join(r, p)]);
          }),
      ),
      config: { entrypoint: ["/bin/busybox", "true"] },
    },
    work,
  );
  execFileSync("sync");
  pullLayoutBuilt = Date.now();
}

async function pullBench(): Promise<void> {
  log("\n## 3. pull and unpack a 5-layer image from a registry on loopback, into an empty store");
  const { startRegistry, push } = await import("../tests/helpers/registry.js");
  const layout = pullLayout;
  const registry = await startRegistry(join(work, "pull-registry"));
  const made: string[] = [];
  const podmanArgs = (d: string) => ["--root", join(d, "storage"), "--runroot", join(d, "run")];
  try {
    const ref = `${registry.host}/bench/big:v1`;
    push(layout, "big", ref);
    const manifest = JSON.parse(
      execFileSync("skopeo", ["inspect", "--raw", "--tls-verify=false", `docker://${ref}`], {
        encoding: "utf8",
      }),
    ) as { layers: { digest: string; size: number }[] };
    const blobs = join(layout, "blobs/sha256");
    const compressed = manifest.layers.reduce((a, l) => a + l.size, 0);
    let uncompressed = 0;
    for (const l of manifest.layers)
      uncompressed += execFileSync("gzip", ["-dc", join(blobs, l.digest.slice(7))], {
        maxBuffer: 1 << 30,
      }).length;
    // Every round writes into a fresh directory, and nothing is deleted until the section ends.
    // This disk's ext4 has no journal, and then ext4 skips each inode deleted in the last minutes
    // (recently_deleted(), up to 6 min) while it looks for a free one: after a 230 MB tree is
    // removed, the next file creations cost several times more (perf showed it). Deleting between
    // rounds would charge that to whoever runs next, and no real pull follows such a delete.
    // Each round starts with nothing dirty in the page cache: otherwise the kernel's writeback of
    // the previous rounds' gigabytes lands on whoever runs while it flushes.
    const fresh = (name: string) => {
      execFileSync("sync");
      const d = join(work, `pull-${name}-${n++}`);
      mkdirSync(d, { recursive: true });
      made.push(d);
      return d;
    };
    // ext4 checks an inode's deletion time only while its inode table block is cached: after a
    // sync, dropping the caches ends the shadow of every earlier delete (this run's image build,
    // an earlier bench, the tests). Failing that (no root), wait out the minute. One warmup round
    // then brings the binaries and the registry's blobs back into the cache for every peer.
    execFileSync("sync");
    try {
      writeFileSync("/proc/sys/vm/drop_caches", "3\n");
    } catch {
      const wait = pullLayoutBuilt + 65_000 - Date.now();
      log(`  (cannot drop caches: waiting ${(wait / 1000).toFixed(0)} s for deletions to age)`);
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    }
    const cfgFor = (state: string) => {
      const f = join(work, `pull-${n++}.json`);
      writeFileSync(
        f,
        JSON.stringify({
          stateDir: state,
          registries: { [registry.host]: { insecure: true } },
          containers: { big: { image: ref } },
        }),
      );
      return f;
    };
    const s = await alternate(
      {
        // Pulled, verified, unpacked and laid out as a bundle: ready to run.
        railyard: async () => {
          const d = fresh("railyard");
          const f = cfgFor(d);
          return timeUntil(process.execPath, [CLI, "--config", f, "build", "big"], { env: ENV });
        },
        "podman pull": async () => {
          const d = fresh("podman");
          return timeUntil("podman", [...podmanArgs(d), "pull", "-q", "--tls-verify=false", ref]);
        },
        "skopeo+umoci": async () => {
          const d = fresh("umoci");
          const t0 = process.hrtime.bigint();
          execFileSync("skopeo", [
            "copy",
            "-q",
            "--src-tls-verify=false",
            `docker://${ref}`,
            `oci:${join(d, "layout")}:v1`,
          ]);
          execFileSync("umoci", [
            "unpack",
            "--image",
            `${join(d, "layout")}:v1`,
            join(d, "bundle"),
          ]);
          return ms(t0);
        },
        "gzip -dc": async () => {
          execFileSync("sync");
          const t0 = process.hrtime.bigint();
          for (const l of manifest.layers)
            execFileSync("sh", ["-c", `gzip -dc ${join(blobs, l.digest.slice(7))} > /dev/null`]);
          return ms(t0);
        },
      },
      Math.max(5, Math.floor(RUNS / 3)),
      1,
    );
    const r = s["railyard"] as Stats;
    const mbps = (x: Stats) => uncompressed / 1e6 / (x.median / 1000);
    log(
      `  image: ${manifest.layers.length} layers, ${(compressed / 1e6).toFixed(0)} MB compressed, ${(uncompressed / 1e6).toFixed(0)} MB of files`,
    );
    for (const [k, v] of Object.entries(s))
      log(
        `  ${k.padEnd(13)} ${fmt(v)}  ${mbps(v).toFixed(0)} MB/s${k === "railyard" ? "" : `  railyard/peer ${ratio(r, v).toFixed(2)}x`}`,
      );
    const podmanS = s["podman pull"] as Stats;
    const gz = s["gzip -dc"] as Stats;
    results.push({
      section: "pull",
      metric: `ms to pull+unpack ${(uncompressed / 1e6).toFixed(0)} MB in ${manifest.layers.length} layers`,
      railyard: r,
      peers: {
        "podman pull": podmanS,
        "skopeo+umoci": s["skopeo+umoci"] as Stats,
        "gzip -dc (limit)": gz,
      },
      goal: "at least 1.5x faster than podman pull; above 70% of the decompression limit",
      met: ratio(podmanS, r) >= 1.5 && mbps(r) >= 0.7 * mbps(gz),
      note: `${mbps(r).toFixed(0)} MB/s against ${mbps(gz).toFixed(0)} MB/s for gzip -dc`,
    });
  } finally {
    await registry.stop();
    for (const d of made) {
      if (d.includes("podman")) spawnSync("podman", [...podmanArgs(d), "system", "reset", "-f"]);
      rmSync(d, { recursive: true, force: true });
    }
  }
}

/** Kilobytes under `paths` (du -sk, hardlinks counted once across them). */
const du = (paths: string[]): number =>
  paths.length === 0
    ? 0
    : Number(
        execFileSync("du", ["-skc", ...paths], { encoding: "utf8" })
          .trim()
          .split("\n")
          .pop()
          ?.split("\t")[0],
      );

/**
 * Ten writable containers of one image that is already pulled and unpacked: railyard's overlay
 * roots (the default) and hardlinked read-only roots, against `podman create` with podman's
 * overlay driver (its default as root). Each round builds ten new bundles (a new environment
 * value changes every fingerprint), as a changed config would.
 */
async function writableBench(): Promise<void> {
  log("\n## 5. ten containers with writable roots from one image already on the host");
  const { startRegistry, push } = await import("../tests/helpers/registry.js");
  const registry = await startRegistry(join(work, "writable-registry"));
  const pstore = join(work, "writable-podman");
  const pargs = [
    "--storage-driver",
    "overlay",
    "--root",
    join(pstore, "storage"),
    "--runroot",
    join(pstore, "run"),
  ];
  const state = join(work, "writable-state");
  try {
    const ref = `${registry.host}/bench/big:v1`;
    push(pullLayout, "big", ref);
    let round = 0;
    const cfg = (readonly: boolean) => {
      const f = join(work, `writable-${round}.json`);
      const env = { ROUND: String(round++) };
      writeFileSync(
        f,
        JSON.stringify({
          stateDir: state,
          registries: { [registry.host]: { insecure: true } },
          containers: Object.fromEntries(
            Array.from({ length: 10 }, (_, i) => [
              `w${i}`,
              { image: ref, readonly, environment: env },
            ]),
          ),
        }),
      );
      return f;
    };
    // Pull and unpack once for each engine; only the per-container cost is measured.
    railyard(["--config", cfg(false), "build"]);
    execFileSync("podman", [...pargs, "pull", "-q", "--tls-verify=false", ref]);
    const bundles = () => readdirSync(join(state, "bundles")).filter((b) => b.includes("-"));
    const diskOf = { railyard: 0, "railyard read-only": 0, "podman create": 0 };
    const measure = (name: keyof typeof diskOf, f: () => Promise<number>) => async () => {
      const before = bundles();
      const podmanBefore = du([join(pstore, "storage")]);
      const t = await f();
      const added = bundles()
        .filter((b) => !before.includes(b))
        .map((b) => join(state, "bundles", b));
      // Hardlinks into the unpacked image are counted once, with the image, and taken away.
      const image = join(state, "rootfs");
      diskOf[name] =
        name === "podman create"
          ? du([join(pstore, "storage")]) - podmanBefore
          : du([image, ...added]) - du([image]);
      return t;
    };
    let c = 0;
    const s = await alternate(
      {
        railyard: measure("railyard", () =>
          timeUntil(process.execPath, [CLI, "--config", cfg(false), "build"], { env: ENV }),
        ),
        "railyard read-only": measure("railyard read-only", () =>
          timeUntil(process.execPath, [CLI, "--config", cfg(true), "build"], { env: ENV }),
        ),
        "podman create": measure("podman create", () => {
          const names = Array.from({ length: 10 }, (_, i) => `w${c}-${i}`);
          c++;
          const loop = names
            .map((nm) => `podman ${pargs.join(" ")} create -q --name ${nm} ${ref} true >/dev/null`)
            .join(" && ");
          return timeUntil("sh", ["-c", loop]);
        }),
      },
      Math.max(5, Math.floor(RUNS / 3)),
      1,
    );
    const r = s["railyard"] as Stats;
    for (const [k, v] of Object.entries(s))
      log(
        `  ${k.padEnd(19)} ${fmt(v)}  ${diskOf[k as keyof typeof diskOf]} KiB for 10${k === "railyard" ? "" : `  railyard/peer ${ratio(r, v).toFixed(2)}x`}`,
      );
    const p = s["podman create"] as Stats;
    results.push({
      section: "writable",
      metric: "ms to build 10 writable containers of one unpacked image",
      railyard: r,
      peers: {
        "railyard read-only (hardlinks)": s["railyard read-only"] as Stats,
        "podman create x10": p,
      },
      goal: "well under 1 s each and under 1 MB each; faster than podman create",
      met: r.median < 10_000 && diskOf.railyard < 10 * 1024 && r.median < p.median,
      note: `disk for 10: railyard ${diskOf.railyard} KiB, read-only ${diskOf["railyard read-only"]} KiB, podman ${diskOf["podman create"]} KiB`,
    });
  } finally {
    await registry.stop();
    spawnSync("podman", [...pargs, "system", "reset", "-f"]);
    rmSync(pstore, { recursive: true, force: true });
  }
}

/**
 * Images built from a Dockerfile: `railyard build NAME` of a compose-style app (a Debian base
 * from an OCI layout, a COPY and a RUN) against buildah itself, which railyard runs. Unchanged,
 * railyard hashes the context and runs no builder, where `buildah build --layers` (what
 * `podman-compose up --build` runs) walks its cache step by step. Changed, railyard adds the
 * push to an OCI layout, the import and the unpack to buildah's own build.
 */
async function buildBench(): Promise<void> {
  log("\n## 9. build from a Dockerfile: unchanged context, and one changed file");
  if (spawnSync("buildah", ["--version"]).status !== 0) {
    log("buildah not installed: skipped");
    return;
  }
  const { debianImage } = await import("../tests/helpers/debian-images.js");
  const { NGINX_LIKE } = await import("../tests/helpers/official-images.js");
  const base = debianImage("nginx-like", NGINX_LIKE);
  const ctx = join(work, "build-app");
  mkdirSync(ctx, { recursive: true });
  writeFileSync(
    join(ctx, "Dockerfile"),
    `FROM oci:${base}:v1\nCOPY index.html /usr/share/nginx/html/index.html\nRUN echo built > /usr/share/nginx/html/run.txt\n`,
  );
  const page = (v: string) => writeFileSync(join(ctx, "index.html"), `page ${v}\n`);
  page("0");
  const file = config("build", { app: { build: ctx } });
  const runc = execFileSync("which", ["runc"], { encoding: "utf8" }).trim();
  const buildah = [
    "build",
    "--layers",
    `--runtime=${runc}`,
    "--pull=false",
    "-q",
    "-t",
    "localhost/bench-build:1",
    ctx,
  ];
  const timed = (cmd: string, args: string[]) => async () => {
    const t = process.hrtime.bigint();
    execFileSync(cmd, args, { env: ENV, stdio: "ignore" });
    return ms(t);
  };
  railyard(["--config", file, "build", "app"]);
  execFileSync("buildah", buildah, { stdio: "ignore" });
  const runs = Math.max(5, Math.ceil(RUNS / 3));
  const same = await alternate(
    {
      "railyard build": timed(process.execPath, [CLI, "--config", file, "build", "app"]),
      "buildah build --layers": timed("buildah", buildah),
    },
    runs,
  );
  let v = 0;
  const changed = await alternate(
    {
      "railyard build": async () => {
        page(`r${v++}`);
        return timed(process.execPath, [CLI, "--config", file, "build", "app"])();
      },
      "buildah build --layers": async () => {
        page(`b${v++}`);
        return timed("buildah", buildah)();
      },
    },
    runs,
  );
  execFileSync("buildah", ["rmi", "localhost/bench-build:1"], { stdio: "ignore" });
  const r0 = same["railyard build"] as Stats;
  const b0 = same["buildah build --layers"] as Stats;
  const r1 = changed["railyard build"] as Stats;
  const b1 = changed["buildah build --layers"] as Stats;
  log(`unchanged: railyard ${fmt(r0)}; buildah ${fmt(b0)} (${ratio(b0, r0).toFixed(1)}x railyard)`);
  log(`changed:   railyard ${fmt(r1)}; buildah ${fmt(b1)} (railyard ${ratio(r1, b1).toFixed(2)}x)`);
  results.push({
    section: "build",
    metric: "ms for railyard build NAME of an unchanged context",
    railyard: r0,
    peers: { "buildah build --layers (cached)": b0 },
    goal: "faster than buildah's cached build (no builder runs)",
    met: ratio(b0, r0) > 1,
  });
  results.push({
    section: "build",
    metric: "ms for railyard build NAME after one file changed (builder, import, unpack)",
    railyard: r1,
    peers: { "buildah build --layers": b1 },
    goal: "within 2x of buildah's own build",
    met: ratio(r1, b1) <= 2,
  });
}

/**
 * The Debian package's railyard (its own stripped Node behind /usr/bin/railyard's sh) against the
 * clone's bundle run by the host's node, which the other sections measure.
 */
async function packageBench(): Promise<void> {
  log("\n## 10. the Debian package's railyard against the clone's, from start to exit");
  const deb = execFileSync(
    process.execPath,
    [join(REPO, "scripts/deb.mjs"), "--out", join(work, "deb")],
    { encoding: "utf8" },
  ).trim();
  const root = join(work, "deb-root");
  execFileSync("dpkg-deb", ["--extract", deb, root]);
  // /usr/bin/railyard names /usr/lib/railyard: the same script, pointed at the copy unpacked here.
  const wrapper = join(root, "usr/bin/railyard");
  writeFileSync(
    wrapper,
    readFileSync(wrapper, "utf8").replaceAll("/usr/lib/railyard", join(root, "usr/lib/railyard")),
  );
  const json = config("package", { hi: { args: ["/bin/busybox", "echo", "ready"] } });
  railyard(["--config", json, "build", "hi"]);
  const run = ["--config", json, "run", "hi"];
  const s = await alternate(
    {
      "package --version": () => timeUntil(wrapper, ["--version"], { env: ENV }),
      "clone --version": () => timeUntil(process.execPath, [CLI, "--version"], { env: ENV }),
      "package run": () => timeUntil(wrapper, run, { env: ENV }),
      "clone run": () => timeUntil(process.execPath, [CLI, ...run], { env: ENV }),
    },
    RUNS * 2,
  );
  for (const [k, v] of Object.entries(s)) log(`  ${k.padEnd(20)} ${fmt(v)}`);
  for (const [what, key] of [
    ["railyard --version", "--version"],
    ["railyard run NAME (JSON config)", "run"],
  ] as const) {
    const pkg = s[`package ${key}`] as Stats;
    const clone = s[`clone ${key}`] as Stats;
    log(`  ${what}: package/clone ${ratio(pkg, clone).toFixed(2)}x`);
    results.push({
      section: "package",
      metric: `ms for ${what}, from the .deb`,
      railyard: pkg,
      peers: { "the clone's bundle": clone },
      goal: "within 5 ms of the clone's",
      met: pkg.median - clone.median <= 5,
    });
  }
}

try {
  const t0 = Date.now();
  log(
    `# railyard benchmark, ${new Date().toISOString().slice(0, 10)}, ${cpus().length} cores, ${Math.round(totalmem() / 2 ** 30)} GiB, ${RUNS} alternating runs`,
  );
  if (!existsSync(join(REPO, "dist/src/cli/main.js"))) throw new Error("run npm run build first");
  const sections = {
    start: startLatency,
    cli: cliOverhead,
    pull: pullBench,
    closure,
    switch: switchBench,
    memory,
    writable: writableBench,
    network: networkStart,
    build: buildBench,
    package: packageBench,
  };
  // BENCH_ONLY=pull,switch runs some sections; the results files are then left as they were.
  const only = process.env["BENCH_ONLY"]?.split(",").filter(Boolean);
  if (!only || only.includes("pull") || only.includes("writable")) await buildPullImage();
  for (const [name, run] of Object.entries(sections)) if (!only || only.includes(name)) await run();
  const fmtPeer = (p: Stats | string) => (typeof p === "string" ? p : `${p.median.toFixed(1)}`);
  const md = [
    `| section | metric | railyard (median) | peers (median) | goal | met |`,
    `| --- | --- | --- | --- | --- | --- |`,
    ...results.map(
      (r) =>
        `| ${r.section} | ${r.metric} | ${r.railyard.median.toFixed(1)} | ${
          Object.entries(r.peers)
            .map(([k, v]) => `${k}: ${fmtPeer(v)}`)
            .join("; ") || "-"
        } | ${r.goal} | ${r.met === null ? "-" : r.met ? "yes" : "**no**"} |`,
    ),
  ].join("\n");
  const header = `Measured ${new Date().toISOString().slice(0, 10)} on ${cpus().length} cores, ${Math.round(totalmem() / 2 ** 30)} GiB, with \`npm run bench\` (${RUNS} alternating runs; ${((Date.now() - t0) / 1000).toFixed(0)} s).`;
  if (only) {
    log(`\n${md}\n\n(BENCH_ONLY=${only.join(",")}: bench/results.* not written)`);
  } else {
    writeFileSync(
      join(REPO, "bench/results.json"),
      `${JSON.stringify({ date: new Date().toISOString(), cores: cpus().length, runs: RUNS, results }, null, 2)}\n`,
    );
    writeFileSync(join(REPO, "bench/results.md"), `${header}\n\n${md}\n`);
    log(`\n${md}\n\n${header}`);
  }
} finally {
  rmSync(work, { recursive: true, force: true });
}
