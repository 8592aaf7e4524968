/**
 * switch, rollback and generations against a real systemd, booted as PID 1 of its own pid and
 * mount namespaces, running real runc. railyard runs inside those namespaces, as it would on a
 * host; the scratch directory is shared so that files the services write are checked from here.
 */
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import {
  chmodSync,
  existsSync,
  mkdirSync,
  readFileSync,
  readdirSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { join } from "node:path";
import { runtimeId } from "../helpers/ids.js";
import { describe, test } from "node:test";
import { railyard } from "../helpers/cli.js";
import { systemdSuite, waitFor as waitUntil } from "../helpers/systemd.js";
import { projects, sleeper } from "../helpers/project.js";

const { dir, sd } = systemdSuite("railyard-systemd-");

const project = projects(dir);
const mainPid = (unit: string) => Number(sd.show(unit, "MainPID")["MainPID"]);
const active = (unit: string) => sd.show(unit, "ActiveState")["ActiveState"];

/** The shared poll, with this file's longer default wait (services here start and stop a lot). */
const waitFor = (what: string, f: () => boolean, ms = 20_000, explain?: () => string) =>
  waitUntil(what, f, ms, explain);

describe("switch", () => {
  test("a OneDrive-like service: runs as 2000:100, writes to its volume, crashes, and systemd keeps restarting it", async () => {
    const p = project();
    const conf = join(dir, "onedrive/conf");
    const data = join(dir, "onedrive/data");
    mkdirSync(conf, { recursive: true });
    writeFileSync(join(conf, "config"), "sync_dir = /onedrive/data\n");
    const script = join(dir, "onedrive/sync.sh");
    writeFileSync(
      script,
      '#!/bin/busybox sh\nn=$(ls /onedrive/data | wc -l)\necho "sync pass $n as $(id -u):$(id -g)"\necho "file $n" > /onedrive/data/file-$n\nsleep 1\necho "crashing"\nexit 1\n',
    );
    chmodSync(script, 0o755);
    const cfg = p.write({
      onedrive: {
        args: [script],
        user: "2000:100",
        volumes: [`${conf}:/onedrive/conf:ro`, `${data}:/onedrive/data`],
        restart: "always",
      },
    });
    // It crashes within the settle time: switch says so, with its last lines, and exits 1;
    // --no-rollback keeps it running (a first switch would otherwise stop it).
    const r = await sd.railyard([...cfg, "switch", "--no-rollback"]);
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stdout, /switched from generation \(none\) to 1\n {2}start {6}onedrive/);
    assert.match(r.stdout, /onedrive did not stay up for 3 s\. generation 1 stays current/);
    assert.match(
      r.stderr,
      /onedrive did not stay up\. its last lines:\n.*\| sync pass 0 as 2000:100/,
    );
    await waitFor(
      "two restarts",
      () => Number(sd.show("railyard-onedrive.service", "NRestarts")["NRestarts"]) >= 2,
    );
    await waitFor(
      "active again",
      () => active("railyard-onedrive.service") === "active",
      20_000,
      () => sd.exec("journalctl", ["-u", "railyard-onedrive.service", "--no-pager"]).stdout,
    );
    const files = readdirSync(data);
    assert.ok(files.length >= 2, `each run wrote a file: ${files.join(", ")}`);
    for (const f of files) {
      const st = statSync(join(data, f));
      assert.deepEqual([st.uid, st.gid], [2000, 100], `${f} is owned by 2000:100 on the host`);
    }
    const journal = sd.exec("journalctl", [
      "-u",
      "railyard-onedrive.service",
      "--no-pager",
      "-o",
      "cat",
    ]).stdout;
    assert.match(journal, /sync pass 0 as 2000:100/);
    assert.match(journal, /sync pass 1 as 2000:100/);
    const lines = journal.split("\n").filter((l) => l === "sync pass 0 as 2000:100");
    assert.equal(lines.length, 1, "each line of the program appears once in the journal");
    const logs = await sd.railyard([...cfg, "logs", "onedrive", "-n", "50"]);
    assert.match(logs.stdout, /sync pass 0 as 2000:100/);
    const status = JSON.parse((await sd.railyard([...cfg, "status", "--json"])).stdout) as {
      name: string;
      restarts: number;
      generation: number;
    }[];
    assert.equal(status[0]?.name, "onedrive");
    assert.ok((status[0]?.restarts ?? 0) >= 2);
    assert.equal(status[0]?.generation, 1);
    await sd.railyard([...cfg, "switch"]); // leave nothing behind for the next tests
    p.write({});
    await sd.railyard([...cfg, "switch"]);
  });

  test("nothing but the container stays resident: the service cgroup holds only its payload", async () => {
    const p = project();
    const cfg = p.write({ solo: sleeper("solo") });
    assert.equal((await sd.railyard([...cfg, "switch"])).code, 0);
    const procs = (cg: string) =>
      sd
        .exec("cat", [`/sys/fs/cgroup/system.slice/railyard-solo.service/${cg}cgroup.procs`])
        .stdout.trim();
    // The runtime's start process may still be exiting when systemctl returns; it must not stay.
    await waitFor("the runtime to exit", () => procs("") === "", 5000);
    await new Promise((r) => setTimeout(r, 500));
    assert.equal(procs(""), "", "no runtime, shim or node process in the service's cgroup");
    assert.ok(
      procs("payload/")
        .split("\n")
        .includes(String(mainPid("railyard-solo.service"))),
      "the main PID is the container's own process",
    );
    p.write({});
    await sd.railyard([...cfg, "switch"]);
  });

  test("changing one of three services restarts exactly that one; removing one stops it; rollback restores it", async () => {
    const p = project();
    let cfg = p.write({ a: sleeper("a"), b: sleeper("b"), c: sleeper("c") });
    assert.equal((await sd.railyard([...cfg, "switch"])).code, 0);
    const pids = () =>
      Object.fromEntries(["a", "b", "c"].map((x) => [x, mainPid(`railyard-${x}.service`)]));
    const first = pids();
    assert.ok(Object.values(first).every((pid) => pid > 0));

    cfg = p.write({ a: sleeper("a"), b: sleeper("b, changed"), c: sleeper("c") });
    const dry = await sd.railyard([...cfg, "switch", "--dry-run", "--json"]);
    assert.deepEqual((JSON.parse(dry.stdout) as { plan: { restart: string[] } }).plan.restart, [
      "b",
    ]);
    assert.deepEqual(pids(), first, "--dry-run changed nothing");
    const r = await sd.railyard([...cfg, "switch"]);
    assert.match(r.stdout, /restart {4}b\n {2}unchanged {2}a, c/);
    const second = pids();
    assert.equal(second["a"], first["a"]);
    assert.equal(second["c"], first["c"]);
    assert.notEqual(second["b"], first["b"]);

    cfg = p.write({ a: sleeper("a"), b: sleeper("b, changed") });
    const removed = await sd.railyard([...cfg, "switch"]);
    assert.match(removed.stdout, /stop {7}c/);
    assert.equal(active("railyard-c.service"), "inactive");
    assert.equal(
      sd.exec("test", ["-e", "/etc/systemd/system/railyard-c.service"]).code,
      1,
      "its unit file is gone",
    );

    const gens = JSON.parse((await sd.railyard([...cfg, "generations", "--json"])).stdout) as {
      generation: number;
      current: boolean;
    }[];
    assert.deepEqual(
      gens.map((g) => [g.generation, g.current]),
      [
        [1, false],
        [2, false],
        [3, true],
      ],
    );

    const back = await sd.railyard([...cfg, "rollback"]);
    assert.equal(back.code, 0, back.stderr);
    assert.match(back.stdout, /switched from generation 3 to 2/);
    assert.equal(active("railyard-c.service"), "active", "the removed service is back");
    assert.equal(mainPid("railyard-a.service"), first["a"], "a was never restarted");
    const to1 = await sd.railyard([...cfg, "rollback", "--to", "1"]);
    assert.match(to1.stdout, /restart {4}b/);
    const bogus = await sd.railyard([...cfg, "rollback", "--to", "9"]);
    assert.equal(bogus.code, 2);
    assert.match(bogus.stderr, /generation 9 does not exist/);
    p.write({});
    await sd.railyard([...cfg, "switch"]);
  });

  test("dependsOn orders the start: B starts after A", async () => {
    const p = project();
    const cfg = p.write({ b: { ...sleeper("b"), dependsOn: ["a"] }, a: sleeper("a") });
    assert.equal((await sd.railyard([...cfg, "switch"])).code, 0);
    const t = (u: string) =>
      Number(sd.show(u, "ExecMainStartTimestampMonotonic")["ExecMainStartTimestampMonotonic"]);
    assert.ok(
      t("railyard-a.service") > 0 && t("railyard-b.service") > t("railyard-a.service"),
      "B's process started after A's",
    );
    const unit = readFileSync(join(p.state, "current/units/railyard-b.service"), "utf8");
    assert.match(unit, /^Requires=railyard-a\.service$/m);
    assert.match(unit, /^After=railyard-a\.service$/m);
    p.write({});
    await sd.railyard([...cfg, "switch"]);
  });

  test("healthcheck: the service is ready only once healthy, dependents wait for it, and failing checks restart it", async () => {
    const p = project();
    const cfg = p.write({
      slow: {
        args: [
          "/bin/busybox",
          "sh",
          "-c",
          "trap 'exit 0' TERM; sleep 2; touch /tmp/ready; while :; do sleep 1; done",
        ],
        tmpfs: ["/tmp"],
        healthcheck: {
          test: ["/bin/busybox", "test", "-f", "/tmp/ready"],
          interval: 1,
          timeout: 2,
          retries: 2,
          // The readiness wait ends at startPeriod + retries x interval: without a start period
          // that would be the very 2 s the container takes, and a loaded machine loses the race.
          startPeriod: 10,
        },
      },
      after: { ...sleeper("after"), dependsOn: ["slow"] },
    });
    const sw = await sd.railyard([...cfg, "switch"]);
    assert.equal(sw.code, 0, sw.stderr);
    const mono = (u: string, prop: string) => Number(sd.show(u, prop)[prop]);
    // The container started at once, but its unit became active only when the check passed,
    // about 2 s later, and the dependent started only then.
    const started = mono("railyard-slow.service", "ExecMainStartTimestampMonotonic");
    const ready = mono("railyard-slow.service", "ActiveEnterTimestampMonotonic");
    assert.ok(ready - started >= 1_500_000, `ready ${(ready - started) / 1000} ms after start`);
    assert.ok(mono("railyard-after.service", "ExecMainStartTimestampMonotonic") >= ready);
    assert.equal(active("railyard-slow-health.timer"), "active", "the checks run on a timer");
    const status = await sd.railyard([...cfg, "--json", "status", "slow"]);
    assert.equal((JSON.parse(status.stdout) as { health: string }[])[0]?.health, "healthy");

    // Break it: two failed checks in a row restart the service, which then turns healthy again.
    const pid = mainPid("railyard-slow.service");
    const rm = sd.exec("runc", [
      "exec",
      runtimeId(p.state, "slow"),
      "/bin/busybox",
      "rm",
      "/tmp/ready",
    ]);
    assert.equal(rm.code, 0, rm.stderr);
    await waitFor(
      "a restart after failed checks",
      () =>
        mono("railyard-slow.service", "NRestarts") >= 1 || mainPid("railyard-slow.service") !== pid,
      20_000,
      () =>
        sd.exec("journalctl", ["--no-pager", "-n", "30", "-u", "railyard-slow-health.service"])
          .stdout,
    );
    await waitFor("healthy again", () => active("railyard-slow.service") === "active");
    // The journal says why (journald may write it a moment later).
    await waitFor("the reason in the journal", () =>
      /slow: 2 failed checks in a row, restarting/.test(
        sd.exec("journalctl", ["--no-pager", "-u", "railyard-slow-health.service"]).stdout,
      ),
    );
    // Each failed check is a line too, and railyard events lists them.
    const ev = await sd.railyard([...cfg, "events", "--json"]);
    const health = ev.stdout
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as { event: string; service: string; detail: string })
      .filter((e) => e.service === "slow" && e.event !== "start" && e.event !== "stop");
    assert.deepEqual(
      health.map((e) => `${e.event}: ${e.detail}`).slice(0, 3),
      [
        "unhealthy: check failed (1 of 2)",
        "unhealthy: check failed (2 of 2)",
        "health-restart: 2 failed checks in a row, restarting",
      ],
      ev.stdout + ev.stderr,
    );
    p.write({});
    assert.equal((await sd.railyard([...cfg, "switch"])).code, 0);
    assert.equal(
      active("railyard-slow-health.timer"),
      "inactive",
      "the timer went with its service",
    );
  });

  test("healthcheck: a container that dies while starting fails its start at once, not at the deadline", async () => {
    const p = project();
    const cfg = p.write({
      dies: {
        args: ["/bin/busybox", "false"],
        restart: "no",
        healthcheck: { test: ["/bin/busybox", "true"], interval: 1, retries: 60 },
      },
    });
    const t0 = Date.now();
    const sw = await sd.railyard([...cfg, "switch"]);
    const took = Date.now() - t0;
    assert.notEqual(sw.code, 0, "the switch reports the service that did not start");
    assert.match(sw.stdout, /stopped dies: dies failed to start/, JSON.stringify(sw));
    assert.ok(took < 15_000, `the start gave up after ${took} ms, not after 60 checks`);
    p.write({});
    await sd.railyard([...cfg, "switch"]);
  });

  test("a container left behind by a killed `railyard run` does not keep its new service from starting", async () => {
    const p = project();
    const cfg = p.write({ left: sleeper("left") });
    const built = JSON.parse((await sd.railyard([...cfg, "build", "left", "--json"])).stdout) as {
      bundles: { bundle: string }[];
    };
    // What `railyard run left` leaves when it and runc are SIGKILLed: a dead container under the
    // id that the unit uses, which `runc run` would refuse ("container with id exists"). Like
    // railyard run, it has its own config.json, whose cgroup is not the unit's.
    const bundle = built.bundles[0]?.bundle ?? "";
    const spec = JSON.parse(readFileSync(join(bundle, "config.json"), "utf8")) as {
      root: { path: string };
      linux: { cgroupsPath?: string };
    };
    delete spec.linux.cgroupsPath;
    spec.root.path = join(bundle, "rootfs");
    const runDir = join(p.state, "run-left");
    mkdirSync(runDir, { recursive: true });
    writeFileSync(join(runDir, "config.json"), JSON.stringify(spec));
    const id = runtimeId(p.state, "left");
    const detached = `runc run --detach --bundle ${runDir} ${id} </dev/null >/dev/null 2>&1`;
    assert.equal(sd.exec("sh", ["-c", detached]).code, 0);
    sd.exec("runc", ["kill", id, "KILL"]);
    await waitFor("the container to die", () =>
      sd.exec("runc", ["state", id]).stdout.includes('"status": "stopped"'),
    );
    const r = await sd.railyard([...cfg, "switch"]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(active("railyard-left.service"), "active");
    p.write({});
    await sd.railyard([...cfg, "switch"]);
  });

  test("a second switch while one runs fails at once with a clear error", async () => {
    const p = project();
    const cfg = p.write({ x: sleeper("x") });
    mkdirSync(p.state, { recursive: true });
    const lock = join(p.state, "switch.lock");
    // A real holder of the flock, which says it is PID 1 of the namespace (alive there).
    writeFileSync(lock, "1\n");
    const holder = spawn("flock", ["--close", lock, "sleep", "60"], { stdio: "ignore" });
    await waitFor(
      "the holder to take the lock",
      () => spawnSync("flock", ["--nonblock", lock, "true"]).status !== 0,
    );
    try {
      const t0 = Date.now();
      const r = await sd.railyard([...cfg, "switch"]);
      assert.equal(r.code, 1);
      assert.match(
        r.stderr,
        /another railyard switch, rollback, build or gc \(pid 1\) holds .*switch\.lock/,
      );
      assert.ok(Date.now() - t0 < 5000, "fails at once");
    } finally {
      holder.kill("SIGKILL");
    }
    // The holder is gone, and so is its lock: no stale file stands in the way.
    const again = await sd.railyard([...cfg, "switch"]);
    assert.equal(again.code, 0, again.stderr);
    p.write({});
    await sd.railyard([...cfg, "switch"]);
  });

  test("two projects on one host: a unit name the other has is refused, with the way out; each has its own onFailure", async () => {
    const [a, b] = [project(), project()];
    const notify = (who: string) => ({ onFailure: `echo ${who}` });
    const cfgA = a.write({ web: sleeper("a") }, notify("a"));
    assert.equal((await sd.railyard([...cfgA, "switch"])).code, 0);
    const pid = mainPid("railyard-web.service");

    const cfgB = b.write({ web: sleeper("b") }, notify("b"));
    const r = await sd.railyard([...cfgB, "switch"]);
    assert.equal(r.code, 1, r.stdout);
    assert.match(
      r.stderr,
      new RegExp(
        `railyard-web\\.service \\(container web\\) in /etc/systemd/system is another railyard project's \\(state dir ${a.state}\\)`,
      ),
    );
    assert.match(r.stderr, /give this config a project name \(project: "NAME"/);
    assert.match(r.stderr, /give web another serviceName/);
    assert.equal(mainPid("railyard-web.service"), pid, "a's web was not touched");
    assert.ok(!existsSync(join(b.state, "current")), "b runs nothing");
    // The generation it built never ran, and says why.
    const gens = await sd.railyard([...cfgB, "--json", "generations"]);
    const [g1] = JSON.parse(gens.stdout) as { failed: { reason: string } | null }[];
    assert.match(g1?.failed?.reason ?? "", /^refused: railyard-web\.service is another project's/);

    // The way out the message names: b's web under its own unit name.
    b.write({ web: { ...sleeper("b"), serviceName: "b-web" } }, notify("b"));
    const again = await sd.railyard([...cfgB, "switch"]);
    assert.equal(again.code, 0, again.stderr);
    assert.equal(active("b-web.service"), "active");
    assert.equal(mainPid("railyard-web.service"), pid);
    // Restarting b's web leaves a's alone: its PID file is its own (it was /run/railyard/web.pid
    // for both, and the restart killed a's web).
    sd.exec("systemctl", ["restart", "b-web.service"]);
    sd.exec("systemctl", ["stop", "b-web.service"]);
    assert.equal(active("railyard-web.service"), "active");
    assert.equal(mainPid("railyard-web.service"), pid, "a's web was not touched");
    sd.exec("systemctl", ["start", "b-web.service"]);
    // Each project's OnFailure= names its own template, which runs its own command.
    const template = (unit: string) =>
      /^OnFailure=(railyard-on-failure-[0-9a-f]{8})@/m.exec(
        sd.exec("systemctl", ["cat", unit]).stdout,
      )?.[1];
    const [ta, tb] = [template("railyard-web.service"), template("b-web.service")];
    assert.ok(ta && tb && ta !== tb, `${ta} ${tb}`);
    assert.match(sd.exec("systemctl", ["cat", `${ta}@.service`]).stdout, /^ExecStart=.*echo a/m);
    assert.match(sd.exec("systemctl", ["cat", `${tb}@.service`]).stdout, /^ExecStart=.*echo b/m);

    for (const cfg of [cfgA, cfgB]) assert.equal((await sd.railyard([...cfg, "down"])).code, 0);
  });

  test("two projects that each have a db run side by side under their project names; the verbs take the short name", async () => {
    // No stateDir: a project's generations go to /var/lib/railyard/projects/NAME of their own.
    const config = (name: string) => {
      const file = join(dir, `project-${name}.json`);
      const db = sleeper(`db of ${name}`);
      writeFileSync(file, JSON.stringify({ project: name, runtime: "runc", containers: { db } }));
      return ["--config", file];
    };
    const [alpha, beta] = [config("alpha"), config("beta")];
    for (const cfg of [alpha, beta]) {
      const r = await sd.railyard([...cfg, "switch"]);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /start {6}db/);
    }
    for (const p of ["alpha", "beta"]) {
      assert.equal(active(`railyard-${p}-db.service`), "active", p);
      assert.equal(sd.exec("runc", ["state", `railyard-${p}-db`]).code, 0, `runtime id of ${p}`);
      const current = sd.exec("readlink", [`/var/lib/railyard/projects/${p}/current`]);
      assert.equal(current.stdout, "generations/1\n", `${p} keeps its own generations`);
    }
    // Restarting one project's db leaves the other's running: each has its own PID file.
    const betaPid = mainPid("railyard-beta-db.service");
    const alphaPid = mainPid("railyard-alpha-db.service");
    const restart = await sd.railyard([...alpha, "restart", "db"]);
    assert.equal(restart.code, 0, restart.stderr);
    assert.notEqual(mainPid("railyard-alpha-db.service"), alphaPid);
    assert.equal(mainPid("railyard-beta-db.service"), betaPid, "beta's db was not touched");
    assert.equal(active("railyard-beta-db.service"), "active");
    // The verbs take the short name inside a project.
    const st = await sd.railyard([...beta, "status", "--json"]);
    assert.equal(st.code, 0, st.stderr);
    const rows = JSON.parse(st.stdout) as { name: string; unit: string }[];
    assert.deepEqual(
      rows.map((r) => [r.name, r.unit]),
      [["db", "railyard-beta-db.service"]],
    );
    await waitFor("beta's log line", () =>
      sd.exec("journalctl", ["-u", "railyard-beta-db.service"]).stdout.includes("db of beta"),
    );
    const logs = await sd.railyard([...beta, "logs", "db"]);
    assert.match(logs.stdout, /db of beta/);
    assert.doesNotMatch(logs.stdout, /db of alpha/);
    const ex = await sd.railyard([
      ...alpha,
      "exec",
      "db",
      "--",
      "/bin/busybox",
      "echo",
      "in alpha",
    ]);
    assert.equal(ex.stdout, "in alpha\n", ex.stderr);
    for (const cfg of [alpha, beta]) assert.equal((await sd.railyard([...cfg, "down"])).code, 0);
  });

  test("down stops every service of the config and removes its units; rollback brings them back", async () => {
    const p = project();
    const cfg = p.write({ a: sleeper("a"), b: sleeper("b") }, { onFailure: "true" });
    assert.equal((await sd.railyard([...cfg, "switch"])).code, 0);
    const dry = await sd.railyard([...cfg, "down", "--dry-run"]);
    assert.equal(dry.code, 0, dry.stderr);
    assert.match(dry.stdout, /^would switch from generation 1 to 2\n {2}stop {7}a, b\n$/);
    assert.equal(active("railyard-a.service"), "active", "a dry run changes nothing");
    // The project's onFailure template, which down removes with the services.
    const template = (sd.show("railyard-a.service", "OnFailure")["OnFailure"] ?? "").replace(
      "@a.",
      "@.",
    );
    assert.match(template, /^railyard-on-failure-[0-9a-f]{8}@\.service$/);

    const r = await sd.railyard([...cfg, "down"]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^switched from generation 1 to 2\n {2}stop {7}a, b\n$/);
    const ours = ["railyard-a.service", "railyard-b.service", template];
    const units = () =>
      sd
        .exec("ls", ["/etc/systemd/system"])
        .stdout.split("\n")
        .filter((u) => ours.includes(u));
    for (const n of ["a", "b"]) assert.equal(active(`railyard-${n}.service`), "inactive");
    assert.deepEqual(units(), [], "no unit of the project is left");
    const again = await sd.railyard([...cfg, "down"]);
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stdout, /^nothing to stop: generation 2 runs no service of this config$/m);

    const back = await sd.railyard([...cfg, "rollback"]);
    assert.equal(back.code, 0, back.stderr);
    assert.match(back.stdout, /^switched from generation 2 to 1\n {2}start {6}a, b$/m);
    assert.equal(active("railyard-a.service"), "active");
    assert.equal(active("railyard-b.service"), "active");
    assert.equal((await sd.railyard([...cfg, "down"])).code, 0);
    assert.deepEqual(units(), []);
  });
});

describe("crash safety", () => {
  for (const step of ["journal", "stopped", "flipped", "reloaded", "started"])
    test(`a switch SIGKILLed after "${step}" converges when run again, and rollback converges to the old generation`, async () => {
      const p = project();
      let cfg = p.write({ keep: sleeper("keep"), change: sleeper("v1"), drop: sleeper("drop") });
      assert.equal((await sd.railyard([...cfg, "switch"])).code, 0);
      const keepPid = mainPid("railyard-keep.service");
      const oldChange = mainPid("railyard-change.service");

      cfg = p.write({ keep: sleeper("keep"), change: sleeper("v2"), add: sleeper("add") });
      const killed = await sd.railyard([...cfg, "switch"], {
        env: { ...process.env, RAILYARD_CRASH_AT: step },
      });
      assert.equal(
        killed.signal ?? (killed.code === 137 ? "SIGKILL" : null),
        "SIGKILL",
        `killed at ${step}: ${killed.stderr}`,
      );
      if (step === "flipped") {
        // current is the new generation, but change may still run the old bundle: status says
        // which services it cannot vouch for, and why.
        const st = await sd.railyard([...cfg, "status", "--json"]);
        const gens = Object.fromEntries(
          (JSON.parse(st.stdout) as { name: string; generation: number | null }[]).map((r) => [
            r.name,
            r.generation,
          ]),
        );
        assert.equal(gens["change"], null, "change: unknown until the switch finishes");
        assert.equal(gens["keep"], 2, "keep is the same in both generations");
        const text = await sd.railyard([...cfg, "status"]);
        assert.match(text.stderr, /a switch from generation 1 to 2 did not finish/);
      }

      const again = await sd.railyard([...cfg, "switch"]);
      assert.equal(again.code, 0, again.stderr);
      assert.equal(
        readFileSync(join(p.state, "current/units/railyard-change.service"), "utf8").length > 0,
        true,
      );
      assert.ok(!existsSync(join(p.state, "activation.json")), "the journal is gone");
      assert.equal(active("railyard-drop.service"), "inactive");
      for (const u of ["keep", "change", "add"])
        assert.equal(active(`railyard-${u}.service`), "active", u);
      assert.notEqual(mainPid("railyard-change.service"), oldChange, "change runs v2");
      assert.match(
        sd.exec("journalctl", ["-u", "railyard-change.service", "-o", "cat", "--no-pager"]).stdout,
        /v2/,
      );
      if (step === "journal")
        assert.equal(mainPid("railyard-keep.service"), keepPid, "keep was untouched");

      const back = await sd.railyard([...cfg, "rollback"]);
      assert.equal(back.code, 0, back.stderr);
      assert.equal(active("railyard-add.service"), "inactive");
      for (const u of ["keep", "change", "drop"])
        assert.equal(active(`railyard-${u}.service`), "active", u);
      p.write({});
      await sd.railyard([...cfg, "switch"]);
    });
});

describe("scale", () => {
  test("100 services switched at once all reach active; a no-op switch restarts none", async (t) => {
    const p = project();
    const containers = Object.fromEntries(
      Array.from({ length: 100 }, (_, i) => [`s${i}`, sleeper(`s${i}`)]),
    );
    const cfg = p.write(containers);
    let t0 = Date.now();
    const first = await sd.railyard([...cfg, "switch"]);
    const firstMs = Date.now() - t0;
    assert.equal(first.code, 0, first.stderr);
    const units = Object.keys(containers).map((c) => `railyard-${c}.service`);
    const states = sd.exec("systemctl", [
      "show",
      "-p",
      "ActiveState",
      "-p",
      "MainPID",
      ...units,
    ]).stdout;
    assert.equal((states.match(/ActiveState=active/g) ?? []).length, 100);
    const before = states.match(/MainPID=\d+/g);
    t0 = Date.now();
    const noop = await sd.railyard([...cfg, "switch"]);
    const noopMs = Date.now() - t0;
    assert.match(noop.stdout, /switched from generation 1 to 1\n {2}unchanged/);
    assert.deepEqual(
      sd
        .exec("systemctl", ["show", "-p", "ActiveState", "-p", "MainPID", ...units])
        .stdout.match(/MainPID=\d+/g),
      before,
    );
    t.diagnostic(`first switch of 100 services: ${firstMs} ms; no-op switch: ${noopMs} ms`);
    p.write({});
    await sd.railyard([...cfg, "switch"]);
  });
});

test("doctor: outside systemd the systemd check fails with its fix; under systemd it passes", async () => {
  const outside = await railyard(["doctor"]);
  assert.equal(outside.code, 1);
  assert.match(outside.stdout, /^FAIL {2}systemd: systemd is not the init system/m);
  assert.match(outside.stdout, /^ok {4}OCI runtime: (runc|crun) \(/m);
  const inside = await sd.railyard(["--json", "doctor"]);
  const checks = JSON.parse(inside.stdout) as { name: string; ok: boolean }[];
  assert.equal(checks.find((c) => c.name === "systemd")?.ok, true);
  assert.equal(inside.code, 0, inside.stdout);
  // nobody has no subordinate ids and no lingering: each failure comes with its command.
  const rootless = await railyard(["doctor", "--rootless", "--for", "nobody"]);
  assert.equal(rootless.code, 1);
  assert.match(rootless.stdout, /fix: loginctl enable-linger nobody/);
  assert.match(rootless.stdout, /fix: usermod --add-subuids 100000-165535 nobody/);
  const usage = await railyard(["doctor", "--for", "nobody"]);
  assert.equal(usage.code, 2);
});

test("without systemd as PID 1, switch says so and changes nothing", async () => {
  const home = join(dir, "nosystemd");
  mkdirSync(home, { recursive: true });
  const file = join(home, "railyard.config.json");
  writeFileSync(
    file,
    JSON.stringify({ stateDir: join(home, "state"), containers: { a: sleeper("a") } }),
  );
  const r = await railyard(["--config", file, "switch"]);
  assert.equal(r.code, 1);
  assert.match(
    r.stderr,
    /railyard switch needs systemd as the init system, and this host does not run it/,
  );
  assert.ok(!existsSync(join(home, "state/generations")));
});

describe("the podman backend", () => {
  test("a podman service pulls at switch time, runs from podman's storage, and never pulls at start", async () => {
    const { startRegistry, buildImage, push, busyboxLayer } =
      await import("../helpers/registry.js");
    const registry = await startRegistry(join(dir, "podman-registry"));
    try {
      const layout = join(dir, "podman-layout");
      buildImage(
        layout,
        "v1",
        {
          layers: [busyboxLayer],
          config: {
            entrypoint: [
              "/bin/busybox",
              "sh",
              "-c",
              "trap 'exit 0' TERM; echo from podman; while :; do sleep 1; done",
            ],
          },
        },
        dir,
      );
      push(layout, "v1", `${registry.host}/t/pod:v1`);
      // podman as this host needs it (a peer, configured inside the test systemd's own /etc).
      sd.exec(
        "sh",
        [
          "-c",
          'mkdir -p /etc/containers && cat > /etc/containers/containers.conf && printf \'[storage]\\ndriver = "vfs"\\nrunroot = "/run/containers/storage"\\ngraphroot = "/var/lib/containers/storage"\\n\' > /etc/containers/storage.conf',
        ],
        {
          input:
            '[containers]\ndefault_ulimits = []\npids_limit = 0\n[engine]\ncgroup_manager = "cgroupfs"\nruntime = "runc"\n',
        },
      );
      const p = project();
      writeFileSync(
        p.file,
        JSON.stringify({
          stateDir: p.state,
          registries: { [registry.host]: { insecure: true } },
          containers: { pod: { image: `${registry.host}/t/pod:v1`, backend: "podman" } },
        }),
      );
      const r = await sd.railyard(["--config", p.file, "switch"]);
      assert.equal(r.code, 0, r.stderr);
      await waitFor(
        "podman service active",
        () => active("railyard-pod.service") === "active",
        30_000,
        () => sd.exec("journalctl", ["-u", "railyard-pod.service", "--no-pager"]).stdout,
      );
      await waitFor("its output", () =>
        /from podman/.test(
          sd.exec("journalctl", ["-u", "railyard-pod.service", "-o", "cat", "--no-pager"]).stdout,
        ),
      );
      // exec goes through podman's own exec, with the flags mapped and the exit code back.
      const ex = await sd.railyard([
        ...["--config", p.file, "exec", "-e", "X=through podman", "pod", "--"],
        ...["/bin/busybox", "sh", "-c", 'echo "$X"; exit 4'],
      ]);
      assert.equal(ex.code, 4, ex.stderr);
      assert.equal(ex.stdout, "through podman\n");
      const unit = readFileSync(join(p.state, "current/units/railyard-pod.service"), "utf8");
      assert.match(unit, new RegExp(`--pull=never .*${registry.host}/t/pod@sha256:[a-f0-9]{64}`));
      // The registry may go away: starting again uses podman's storage only.
      await registry.stop();
      assert.equal(sd.exec("systemctl", ["restart", "railyard-pod.service"]).code, 0);
      await waitFor(
        "active after restart without registry",
        () => active("railyard-pod.service") === "active",
        30_000,
      );
      writeFileSync(p.file, JSON.stringify({ stateDir: p.state, containers: {} }));
      const stop = await sd.railyard(["--config", p.file, "switch"]);
      assert.match(stop.stdout, /stop {7}pod/);
      assert.equal(active("railyard-pod.service"), "inactive");
    } finally {
      await registry.stop();
    }
  });
});
