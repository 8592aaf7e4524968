/**
 * The everyday verbs on running services, under a real systemd with real runc: start, stop,
 * restart and ps, as a docker or podman user reaches for them.
 */
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { CLI } from "../helpers/paths.js";
import { crasher, projects, sleeper } from "../helpers/project.js";
import { systemdSuite } from "../helpers/systemd.js";

// systemd logs its own unit messages here, as on a host: railyard events reads them.
const { dir, sd } = systemdSuite("railyard-day2-", { managerLog: true });
const project = projects(dir);

const unit = (n: string) => `railyard-${n}.service`;
const mainPid = (n: string) => Number(sd.show(unit(n), "MainPID")["MainPID"]);
const starts = (n: string) =>
  sd
    .exec("journalctl", ["-u", unit(n), "--no-pager", "-o", "cat"])
    .stdout.split("\n")
    .filter((l) => l === `hello from ${n}`).length;

test("stop, start and restart go through systemd, wait, and say what happened per service", async () => {
  const p = project();
  const envFile = join(dir, "c.env");
  writeFileSync(envFile, "OK=1\n");
  const cfg = p.write({
    a: sleeper("hello from a"),
    b: sleeper("hello from b"),
    c: { ...sleeper("hello from c"), environmentFiles: [envFile] },
  });
  const sw = await sd.railyard([...cfg, "switch"]);
  assert.equal(sw.code, 0, sw.stdout + sw.stderr);
  const before = mainPid("a");

  const stop = await sd.railyard([...cfg, "stop", "a"]);
  assert.equal(stop.code, 0, stop.stderr);
  assert.match(stop.stdout, /^stopped {3}a$/m);
  assert.match(stop.stderr, /stays stopped until railyard start, or a switch that changes it/);
  const ps = await sd.railyard([...cfg, "ps"]);
  assert.match(ps.stdout, /^a +inactive\/dead /m, "ps is status, and shows the stop");
  const again = await sd.railyard([...cfg, "switch"]);
  assert.match(again.stdout, /unchanged {2}a, b, c/);
  assert.equal(sd.show(unit("a"), "ActiveState")["ActiveState"], "inactive", "a switch leaves it");

  const start = await sd.railyard([...cfg, "start", "a"]);
  assert.equal(start.code, 0, start.stderr);
  const started = mainPid("a");
  assert.match(start.stdout, new RegExp(`^started {3}a {2}pid ${started}$`, "m"));
  assert.notEqual(started, before, "a new main process");

  // --all restarts each service once.
  const pids = { a: mainPid("a"), b: mainPid("b"), c: mainPid("c") };
  const counts = { a: starts("a"), b: starts("b"), c: starts("c") };
  const all = await sd.railyard([...cfg, "restart", "--all", "--json"]);
  assert.equal(all.code, 0, all.stderr);
  const rows = JSON.parse(all.stdout) as { name: string; ok: boolean; mainPid: number }[];
  assert.deepEqual(
    rows.map((r) => [r.name, r.ok]),
    [
      ["a", true],
      ["b", true],
      ["c", true],
    ],
  );
  for (const n of ["a", "b", "c"] as const) {
    assert.notEqual(mainPid(n), pids[n], `${n} restarted`);
    assert.equal(rows.find((r) => r.name === n)?.mainPid, mainPid(n));
    await waitForCount(n, counts[n] + 1);
  }

  // A start that fails says which and why, and exits 1; the others are still done.
  writeFileSync(envFile, "not a pair\n");
  const bad = await sd.railyard([...cfg, "restart", "b", "c"]);
  assert.equal(bad.code, 1);
  assert.match(bad.stdout, /^restarted b {2}pid \d+$/m);
  assert.match(bad.stdout, /^failed {4}c {2}.*exit-code.*see railyard logs c$/m);
  writeFileSync(envFile, "OK=1\n");

  const unknown = await sd.railyard([...cfg, "stop", "nope"]);
  assert.equal(unknown.code, 2);
  assert.match(unknown.stderr, /no service "nope" in generation 1\. services: a, b, c/);
  const none = await sd.railyard([...cfg, "restart"]);
  assert.equal(none.code, 2);
  assert.match(none.stderr, /name one or more services, or give --all/);
  // Names every object inherits are no services: stop __proto__ ran `systemctl stop
  // undefined.service` and exited 0.
  // (c, whose start failed above, comes back on its own: Restart=always.)
  const pidsNow = { a: mainPid("a"), b: mainPid("b") };
  for (const name of ["__proto__", "toString", "constructor", "hasOwnProperty"])
    for (const verb of ["stop", "restart", "start", "status", "inspect", "logs", "exec", "run"]) {
      const r = await sd.railyard([...cfg, verb, name, ...(verb === "exec" ? ["--", "true"] : [])]);
      assert.equal(r.code, 2, `${verb} ${name}: ${r.stderr}`);
      assert.match(
        r.stderr,
        new RegExp(`no (service|container named) "${name}"`),
        `${verb} ${name}`,
      );
    }
  assert.deepEqual({ a: mainPid("a"), b: mainPid("b") }, pidsNow);
  sd.exec("systemctl", ["stop", unit("a"), unit("b"), unit("c")]);
});

/** The container said hello `n` times in all (each start once), within a few seconds. */
async function waitForCount(name: string, n: number): Promise<void> {
  for (let i = 0; i < 50 && starts(name) < n; i++) await new Promise((r) => setTimeout(r, 100));
  assert.equal(starts(name), n, `${name} started exactly once more`);
}

test("exec runs a command as the container's process runs: its user, environment and directory; flags override; exit codes and stdin pass through", async () => {
  const p = project();
  const cfg = p.write({
    u: { ...sleeper("hello from u"), user: "2000:100", environment: { GREETING: "hi" } },
  });
  const sw = await sd.railyard([...cfg, "switch"]);
  assert.equal(sw.code, 0, sw.stdout + sw.stderr);
  const bb = (script: string) => ["/bin/busybox", "sh", "-c", script];

  const id = await sd.railyard([...cfg, "exec", "u", "--", "/bin/busybox", "id", "-u"]);
  assert.equal(id.code, 0, id.stderr);
  assert.equal(id.stdout, "2000\n", "the container's user");
  const env = await sd.railyard([...cfg, "exec", "u", "--", ...bb('echo "$GREETING $(pwd)"')]);
  assert.equal(env.stdout, "hi /\n", "its environment and working directory");
  const over = await sd.railyard([
    ...cfg,
    "exec",
    "-u",
    "0",
    "-e",
    "X=1",
    "-e",
    "Y=2",
    "-w",
    "/usr",
    "u",
    "--",
    ...bb('id -u; echo "$X$Y $GREETING"; pwd'),
  ]);
  assert.equal(over.stdout, "0\n12 hi\n/usr\n", `flags override, the rest stays ${over.stderr}`);
  const named = await sd.railyard([
    ...cfg,
    "exec",
    "-u",
    "nobody",
    "u",
    "--",
    "/bin/busybox",
    "id",
    "-u",
  ]);
  assert.equal(named.stdout, "65534\n", "a user name of the container's /etc/passwd");

  const seven = await sd.railyard([...cfg, "exec", "u", "--", ...bb("exit 7")]);
  assert.equal(seven.code, 7, "the command's exit code");

  // stdin in, and a terminal on -t (through script(1), as a person at a terminal has one).
  const cli = [process.execPath, CLI, ...cfg].join(" ");
  const piped = sd.exec("/bin/sh", ["-c", `echo piped | ${cli} exec u -- /bin/busybox cat`]);
  assert.equal(piped.stdout, "piped\n", piped.stderr);
  const tty = sd.exec("script", ["-qec", `${cli} exec -t u -- /bin/busybox tty`, "/dev/null"]);
  assert.match(tty.stdout, /\/dev\/pts\/\d+\r?$/m, tty.stdout + tty.stderr);

  // inspect: what runs, in one place; its config is check's for that container.
  const ins = await sd.railyard([...cfg, "inspect", "u", "--json"]);
  assert.equal(ins.code, 0, ins.stderr);
  const info = JSON.parse(ins.stdout) as {
    generation: number;
    state: { active: string; mainPid: number };
    unit: { name: string; file: string };
    bundle: string;
    capabilities: string[];
    config: unknown;
  };
  const check = await sd.railyard([...cfg, "check", "--json"]);
  const resolved = JSON.parse(check.stdout) as { containers: Record<string, unknown> };
  assert.deepEqual(info.config, resolved.containers["u"], "inspect's config is check's");
  assert.equal(info.state.active, "active");
  assert.equal(info.state.mainPid, mainPid("u"));
  assert.equal(info.unit.name, unit("u"));
  assert.equal(sd.exec("test", ["-f", join(info.bundle, "config.json")]).code, 0, info.bundle);
  assert.ok(info.capabilities.includes("CAP_KILL"), info.capabilities.join(" "));
  const text = await sd.railyard([...cfg, "inspect", "u"]);
  assert.match(text.stdout, /^generation +1$/m);
  assert.match(text.stdout, /^user +2000:100$/m);

  // top: the container's processes, by host and container pid, from its cgroup.
  const top = await sd.railyard([...cfg, "top", "u", "--json"]);
  assert.equal(top.code, 0, top.stderr);
  const procs = JSON.parse(top.stdout) as {
    pid: number;
    containerPid: number;
    uid: number;
    hostUid: number;
    user: string;
    command: string;
  }[];
  const init = procs.find((r) => r.containerPid === 1);
  assert.ok(init, top.stdout);
  assert.equal(init.pid, mainPid("u"), "the service's main PID is the container's pid 1");
  assert.equal(init.uid, 2000);
  assert.equal(init.hostUid, 2000, "no user namespace as root");
  assert.match(init.command, /^\/bin\/busybox sh -c trap/);
  const topText = await sd.railyard([...cfg, "top", "u"]);
  assert.match(topText.stdout, /^ *PID +CPID +USER +HOST-UID +COMMAND$/m);

  sd.exec("systemctl", ["stop", unit("u")]);
  const stopped = await sd.railyard([...cfg, "exec", "u", "--", "/bin/busybox", "true"]);
  assert.equal(stopped.code, 1);
  assert.match(stopped.stderr, /u is not running \(inactive\)\. railyard start u/);
  const usage = await sd.railyard([...cfg, "exec", "u"]);
  assert.equal(usage.code, 2);
  assert.match(usage.stderr, /usage: railyard exec/);
});

test("attack: a container's /etc/passwd that links to the host's files, /dev/zero or a FIFO gets no exec -u or top to read them", async () => {
  // A writable root (copies of the host's files), which the container's root then rigs.
  const p = project();
  const rig = [
    "ln -sf /etc/shadow /etc/passwd", // on the host, /etc/shadow holds root's entry
    "ln -sf /dev/zero /etc/group",
    "mkfifo /etc/fifo && ln -sf /etc/fifo /etc/shadow-fifo",
    "echo rigged",
    "while :; do sleep 1; done",
  ].join("; ");
  const cfg = p.write({
    evil: { args: ["/bin/busybox", "sh", "-c", rig], readonly: false, stopSignal: "SIGKILL" },
  });
  const sw = await sd.railyard([...cfg, "switch"]);
  assert.equal(sw.code, 0, sw.stdout + sw.stderr);
  for (let i = 0; i < 50; i++) {
    if (sd.exec("journalctl", ["-u", unit("evil"), "-o", "cat"]).stdout.includes("rigged")) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  const t0 = Date.now();
  const asRoot = await sd.railyard([
    ...cfg,
    "exec",
    "-u",
    "root",
    "evil",
    "--",
    "/bin/busybox",
    "id",
  ]);
  assert.ok(Date.now() - t0 < 10_000, "no hang, no endless read");
  // Inside its root, /etc/shadow does not exist: there is no root user to find, so it says so.
  assert.equal(asRoot.code, 2, asRoot.stdout + asRoot.stderr);
  assert.match(asRoot.stderr, /user "root" does not exist in evil's \/etc\/passwd/);
  const top = await sd.railyard([...cfg, "top", "evil", "--json"]);
  assert.equal(top.code, 0, top.stderr);
  assert.ok(Date.now() - t0 < 20_000, "top neither");
  sd.exec("systemctl", ["stop", unit("evil")]);
});

test("stats reads each service's cgroup: CPU % of a busy loop, the processes it started, and n/a with the reason where this host keeps no figure", async () => {
  const p = project();
  const cfg = p.write({
    // Three processes: two background sleeps and the sleep the shell becomes.
    three: {
      args: [
        "/bin/busybox",
        "sh",
        "-c",
        "busybox sleep 100000 & busybox sleep 100000 & exec busybox sleep 100000",
      ],
      stopSignal: "SIGKILL",
    },
    busy: { args: ["/bin/busybox", "sh", "-c", "while :; do :; done"], stopSignal: "SIGKILL" },
  });
  const sw = await sd.railyard([...cfg, "switch", "--settle", "0"]);
  assert.equal(sw.code, 0, sw.stdout + sw.stderr);
  // The two background sleeps are running once pid 1 has exec'd.
  await new Promise((r) => setTimeout(r, 500));
  const r = await sd.railyard([...cfg, "stats", "--json"]);
  assert.equal(r.code, 0, r.stderr);
  const rows = JSON.parse(r.stdout) as {
    name: string;
    cpuPercent: number | null;
    memory: { current: number } | null;
    pids: number | null;
    missing: string[];
  }[];
  const by = Object.fromEntries(rows.map((x) => [x.name, x]));
  assert.equal(by["three"]?.pids, 3, "the processes started in the container");
  assert.ok((by["busy"]?.cpuPercent ?? 0) > 50, `a busy loop: ${by["busy"]?.cpuPercent}%`);
  assert.ok((by["three"]?.cpuPercent ?? 100) < 5, `sleeping: ${by["three"]?.cpuPercent}%`);
  // This hybrid host's test systemd has a fresh cgroup2 with no memory controller: said so.
  const memFile = sd.exec("cat", [
    "/sys/fs/cgroup/system.slice/railyard-three.service/memory.current",
  ]);
  if (memFile.code !== 0) {
    assert.equal(by["three"]?.memory, null);
    assert.ok(by["three"]?.missing.some((m) => /no memory controller/.test(m)));
  } else {
    const own = Number(memFile.stdout.trim());
    const got = by["three"]?.memory?.current ?? 0;
    assert.ok(Math.abs(got - own) <= own * 0.1, `memory ${got} within 10% of the cgroup's ${own}`);
  }
  const text = await sd.railyard([...cfg, "stats", "three"]);
  assert.match(text.stdout, /^NAME +CPU % +MEM USAGE \/ LIMIT +PIDS +NET I\/O +BLOCK I\/O$/m);
  assert.match(text.stdout, /^three +\d+\.\d% +\S.* +3 /m);
  // status (ps) shows the CPU time used, from systemd's own accounting.
  const ps = JSON.parse((await sd.railyard([...cfg, "ps", "--json"])).stdout) as {
    name: string;
    cpuNs: number | null;
  }[];
  const busyCpu = ps.find((x) => x.name === "busy")?.cpuNs ?? 0;
  assert.ok(busyCpu > 0.3e9, `busy used ${busyCpu} ns of CPU`);
  sd.exec("systemctl", ["stop", unit("three"), unit("busy")]);
});

test("events lists starts, stops, deaths, scheduled restarts and switches from the journal, and follows them", async () => {
  const p = project();
  const cfg = p.write({ ev: sleeper("hello from ev"), crash: crasher("hello from crash") });
  const sw = await sd.railyard([...cfg, "switch", "--settle", "0"]);
  assert.equal(sw.code, 0, sw.stdout + sw.stderr);
  assert.equal((await sd.railyard([...cfg, "stop", "ev"])).code, 0);
  assert.equal((await sd.railyard([...cfg, "start", "ev"])).code, 0);
  // crash exits 1 after 0.3 s; systemd schedules its restart 2 s later.
  await new Promise((r) => setTimeout(r, 3000));
  const r = await sd.railyard([...cfg, "events", "--json"]);
  assert.equal(r.code, 0, r.stderr);
  const events = r.stdout
    .trim()
    .split("\n")
    .map((l) => JSON.parse(l) as { event: string; service: string | null; detail: string });
  const of = (s: string) => events.filter((e) => e.service === s).map((e) => e.event);
  assert.deepEqual(of("ev"), ["start", "stop", "start"]);
  assert.ok(of("crash").includes("die"), of("crash").join(" "));
  assert.ok(of("crash").includes("restart"), of("crash").join(" "));
  assert.match(events.find((e) => e.event === "die")?.detail ?? "", /exited, status 1/);
  const switches = events.filter((e) => e.event === "switch");
  assert.equal(switches.length, 1);
  assert.match(switches[0]?.detail ?? "", /^from generation \(none\) to 1: start crash ev$/);
  const text = await sd.railyard([...cfg, "events"]);
  assert.match(text.stdout, /^\d{4}-\d\d-\d\dT\S+Z {2}stop {9}ev$/m);

  // Followed: a restart made while it runs shows up.
  const cli = [process.execPath, CLI, ...cfg].join(" ");
  const follow = sd.exec("/bin/sh", [
    "-c",
    `(sleep 1; ${cli} restart ev >/dev/null) & timeout 5 ${cli} events -f --since now --json; wait`,
  ]);
  const followed = follow.stdout
    .trim()
    .split("\n")
    .filter(Boolean)
    .map((l) => JSON.parse(l) as { event: string; service: string });
  assert.deepEqual(
    followed.filter((e) => e.service === "ev").map((e) => e.event),
    ["stop", "start"],
    follow.stdout + follow.stderr,
  );
  sd.exec("systemctl", ["stop", unit("ev"), unit("crash")]);
});
