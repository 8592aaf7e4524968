/**
 * A switch as a transaction, against a real systemd running real runc: a generation whose
 * services do not settle is undone by going back to the one the host left, recorded as failed,
 * and reported to `onFailure`; a SIGKILL at any step of that still converges.
 */
import assert from "node:assert/strict";
import { existsSync, readFileSync, realpathSync } from "node:fs";
import { join } from "node:path";
import { describe, test } from "node:test";
import { runtimeId } from "../helpers/ids.js";
import { crasher, projects, sleeper, type Project } from "../helpers/project.js";
import { systemdSuite, waitFor } from "../helpers/systemd.js";

const { dir, sd } = systemdSuite("railyard-transaction-");
const project = projects(dir);

const mainPid = (unit: string) => Number(sd.show(unit, "MainPID")["MainPID"]);
const active = (unit: string) => sd.show(unit, "ActiveState")["ActiveState"];
const unit = (n: string) => `railyard-${n}.service`;
const current = (p: Project) => realpathSync(join(p.state, "current")).split("/").pop();
const journal = (n: string) =>
  sd.exec("journalctl", ["-u", unit(n), "--no-pager", "-o", "cat"]).stdout;
interface GenRow {
  generation: number;
  current: boolean;
  failed: { reason: string; services: string[] } | null;
}
const generations = async (cfg: string[]) =>
  JSON.parse((await sd.railyard([...cfg, "generations", "--json"])).stdout) as GenRow[];

/** Generation 1 runs keep and change (v1); the returned config is generation 2's. */
async function goodThenBad(p: Project): Promise<{ cfg: string[]; keepPid: number }> {
  const cfg = p.write({ keep: sleeper("keep"), change: sleeper("v1") });
  const first = await sd.railyard([...cfg, "switch"]);
  assert.equal(first.code, 0, first.stderr);
  p.write({ keep: sleeper("keep"), change: crasher("v2"), add: sleeper("add") });
  return { cfg, keepPid: mainPid(unit("keep")) };
}

/** Generation 1 is current again and runs as it did; generation 2 is marked failed. */
async function assertBackOnOne(p: Project, keepPid: number): Promise<void> {
  assert.equal(current(p), "1");
  assert.ok(!existsSync(join(p.state, "activation.json")), "the journal is gone");
  assert.equal(mainPid(unit("keep")), keepPid, "keep, the same in both, was never touched");
  assert.equal(active(unit("add")), "inactive", "add, new in 2, is stopped");
  await waitFor("change to run v1 again", () => active(unit("change")) === "active");
  const restarted = sd.exec("systemctl", ["cat", unit("change")]).stdout;
  assert.match(restarted, /state\/current\/bundles\/change/);
  assert.match(journal("change").split("\n").slice(-3).join("\n"), /v1/);
}

describe("a failed switch undoes itself", () => {
  test("a crash-looping service: switch exits 1 within the settle time, generation 1 is current again and untouched where unchanged", async () => {
    const p = project();
    const { cfg, keepPid } = await goodThenBad(p);
    const t0 = Date.now();
    const r = await sd.railyard([...cfg, "switch", "--settle", "2"]);
    const took = Date.now() - t0;
    assert.equal(r.code, 1, r.stderr);
    assert.ok(took < 2000 + 8000, `switch took ${took} ms: the settle time and a little more`);
    assert.match(
      r.stdout,
      /switched from generation 1 to 2\n {2}start {6}add\n {2}restart {4}change/,
    );
    assert.match(r.stdout, /rolled back to generation 1: change did not stay up for 2 s/);
    assert.match(r.stdout, /generation 2 is marked failed/);
    assert.match(
      r.stderr,
      /change did not stay up\. its last lines:\n(.*\n)*.*\| fatal: cannot open data/,
    );
    await assertBackOnOne(p, keepPid);

    const gens = await generations(cfg);
    assert.equal(gens.find((g) => g.generation === 2)?.failed?.services.join(), "change");
    assert.match(
      gens.find((g) => g.generation === 2)?.failed?.reason ?? "",
      /change did not stay up/,
    );
    assert.equal(gens.find((g) => g.generation === 1)?.failed, null);
    const text = await sd.railyard([...cfg, "generations"]);
    assert.match(text.stdout, /^ +2 .*FAILED: change did not stay up for 2 s$/m);

    // A later good generation: rollback goes back past the failed one, to 1.
    p.write({ keep: sleeper("keep"), change: sleeper("v3") });
    assert.equal((await sd.railyard([...cfg, "switch"])).code, 0);
    assert.equal(current(p), "3");
    const back = await sd.railyard([...cfg, "rollback", "--dry-run"]);
    assert.match(back.stdout, /would switch from generation 3 to 1/);
    p.write({});
    await sd.railyard([...cfg, "switch"]);
  });

  test("a healthcheck that never passes fails the switch the same way; one that passes lets it through", async () => {
    const p = project();
    const check = (ok: boolean) => ({
      ...sleeper("checked"),
      healthcheck: { test: ["/bin/busybox", ok ? "true" : "false"], interval: 1, retries: 2 },
    });
    const cfg = p.write({ keep: sleeper("keep"), web: sleeper("web v1") });
    assert.equal((await sd.railyard([...cfg, "switch"])).code, 0);
    const keepPid = mainPid(unit("keep"));
    const webPid = mainPid(unit("web"));

    p.write({ keep: sleeper("keep"), web: check(false) });
    const bad = await sd.railyard([...cfg, "switch"]);
    assert.equal(bad.code, 1, bad.stderr);
    assert.match(bad.stdout, /rolled back to generation 1: web failed to start/);
    assert.equal(current(p), "1");
    assert.equal(mainPid(unit("keep")), keepPid);
    assert.notEqual(mainPid(unit("web")), webPid, "web was restarted back to generation 1");
    assert.equal(active(unit("web")), "active");

    p.write({ keep: sleeper("keep"), web: check(true) });
    const good = await sd.railyard([...cfg, "switch"]);
    assert.equal(good.code, 0, good.stdout + good.stderr);
    assert.equal(current(p), "3");
    // The health result is named by the runtime id, which carries the project's state dir scope.
    const health = `/run/railyard/${runtimeId(p.state, "web")}.health`;
    assert.equal(sd.exec("cat", [health]).stdout.trim(), "healthy");
    p.write({});
    await sd.railyard([...cfg, "switch"]);
  });

  test("a first switch has nothing to go back to: it stops what failed, keeps the rest, and says so", async () => {
    const p = project();
    const cfg = p.write({ ok: sleeper("ok"), bad: crasher("bad") });
    const r = await sd.railyard([...cfg, "switch", "--settle", "1"]);
    assert.equal(r.code, 1);
    assert.match(
      r.stdout,
      /stopped bad: bad did not stay up for 1 s\. there is no earlier generation/,
    );
    assert.equal(active(unit("ok")), "active");
    assert.equal(active(unit("bad")), "inactive");
    assert.equal(sd.show(unit("bad"), "Result")["Result"], "success", "not left failed");
    p.write({});
    await sd.railyard([...cfg, "switch"]);
  });

  test("--no-rollback keeps the failed generation running, marked, for debugging", async () => {
    const p = project();
    const { cfg } = await goodThenBad(p);
    const r = await sd.railyard([...cfg, "switch", "--settle", "1", "--no-rollback", "--json"]);
    assert.equal(r.code, 1);
    const out = JSON.parse(r.stdout) as { to: number; reason: string; rolledBack?: unknown };
    assert.equal(out.to, 2);
    assert.equal(out.rolledBack, undefined);
    assert.match(out.reason, /change did not stay up for 1 s/);
    assert.equal(current(p), "2");
    assert.equal(active(unit("add")), "active");
    assert.ok((await generations(cfg)).find((g) => g.generation === 2)?.failed);
    // Fixed in place: the same config with change repaired switches and settles.
    p.write({ keep: sleeper("keep"), change: sleeper("v2 fixed"), add: sleeper("add") });
    assert.equal((await sd.railyard([...cfg, "switch", "--settle", "1"])).code, 0);
    p.write({});
    await sd.railyard([...cfg, "switch"]);
  });
});

describe("status while a switch settles", () => {
  test("says a switch is under way, not that one did not finish", async () => {
    const p = project();
    const cfg = p.write({ keep: sleeper("keep") });
    assert.equal((await sd.railyard([...cfg, "switch"])).code, 0);
    p.write({ keep: sleeper("keep v2") });
    const sw = sd.railyard([...cfg, "switch", "--settle", "4"]);
    await waitFor("the switch to settle its services", () =>
      existsSync(join(p.state, "activation.json")),
    );
    const st = await sd.railyard([...cfg, "status"]);
    assert.match(st.stderr, /a switch from generation 1 to 2 is under way \(pid \d+\)/);
    assert.equal((await sw).code, 0);
    assert.doesNotMatch((await sd.railyard([...cfg, "status"])).stderr, /switch from/);
    p.write({});
    await sd.railyard([...cfg, "switch"]);
  });
});

describe("onFailure tells someone", () => {
  test("a failed switch runs it with the generation, services and reason; a service systemd gives up on runs it through OnFailure=", async () => {
    const p = project();
    const seen = join(dir, "notified");
    const notify = `env | grep ^RAILYARD_ | sort > ${seen}.$RAILYARD_EVENT`;
    const cfg = p.write({ keep: sleeper("keep") }, { onFailure: notify });
    assert.equal((await sd.railyard([...cfg, "switch"])).code, 0);
    p.write({ keep: sleeper("keep"), db: crasher("db") }, { onFailure: notify });
    assert.equal((await sd.railyard([...cfg, "switch", "--settle", "1"])).code, 1);
    const env = readFileSync(`${seen}.switch-failed`, "utf8");
    assert.match(env, /^RAILYARD_GENERATION=2$/m);
    assert.match(env, /^RAILYARD_SERVICES=db$/m);
    // Depending on how fast it exits, systemd sees its start fail or the service die after it.
    assert.match(env, /^RAILYARD_REASON=db (failed to start|did not stay up for 1 s)$/m);

    // A service that fails after it settled, and that systemd does not restart: the unit's
    // OnFailure= runs the same command through the template railyard-on-failure-SCOPE@.service.
    const late = {
      args: ["/bin/busybox", "sh", "-c", "trap 'exit 0' TERM; sleep 3; echo gave up; exit 1"],
      restart: "no",
    };
    p.write({ keep: sleeper("keep"), late }, { onFailure: notify });
    const r = await sd.railyard([...cfg, "switch", "--settle", "1"]);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    // The shell creates the file before env's lines are in it: wait for the lines.
    const written = () =>
      existsSync(`${seen}.service-failed`) &&
      readFileSync(`${seen}.service-failed`, "utf8").includes("RAILYARD_SERVICES=");
    await waitFor("the OnFailure unit to run", written);
    const svc = readFileSync(`${seen}.service-failed`, "utf8");
    assert.match(svc, /^RAILYARD_SERVICES=late$/m);
    assert.match(svc, /^RAILYARD_GENERATION=3$/m);
    assert.match(svc, /^RAILYARD_REASON=late failed and systemd gave up restarting it$/m);
    p.write({});
    await sd.railyard([...cfg, "switch"]);
  });

  test("a hook that leaves something running in the background does not keep the switch from exiting", async () => {
    // The notifier sent off with & holds the hook's stdout: switch waited on it for ever.
    const p = project();
    const cfg = p.write({ keep: sleeper("keep") }, { onFailure: "sleep 300 & echo sent" });
    assert.equal((await sd.railyard([...cfg, "switch"])).code, 0);
    p.write({ keep: sleeper("keep"), db: crasher("db") }, { onFailure: "sleep 300 & echo sent" });
    const t0 = Date.now();
    const r = await sd.railyard([...cfg, "switch", "--settle", "1"]);
    assert.equal(r.code, 1, r.stdout + r.stderr);
    assert.ok(Date.now() - t0 < 30_000, `switch took ${Date.now() - t0} ms`);
    p.write({});
    await sd.railyard([...cfg, "switch"]);
    sd.exec("pkill", ["-f", "sleep 300"]);
  });

  test("setting onFailure restarts nobody", async () => {
    const p = project();
    const cfg = p.write({ keep: sleeper("keep") });
    assert.equal((await sd.railyard([...cfg, "switch"])).code, 0);
    const pid = mainPid(unit("keep"));
    p.write({ keep: sleeper("keep") }, { onFailure: "true" });
    const r = await sd.railyard([...cfg, "switch"]);
    assert.match(r.stdout, /unchanged +keep/);
    assert.equal(mainPid(unit("keep")), pid);
    assert.match(
      sd.show(unit("keep"), "OnFailure")["OnFailure"] ?? "",
      /railyard-on-failure-[0-9a-f]{8}@keep\.service/,
    );
    p.write({});
    await sd.railyard([...cfg, "switch"]);
  });
});

describe("crash safety of the undo", () => {
  const steps = [
    "settled",
    "marked",
    "rollback-journal",
    "rollback-stopped",
    "rollback-flipped",
    "rollback-reloaded",
    "rollback-started",
  ];
  for (const step of steps)
    test(`a failing switch SIGKILLed after "${step}": rollback converges on generation 1`, async () => {
      const p = project();
      const { cfg, keepPid } = await goodThenBad(p);
      const killed = await sd.railyard([...cfg, "switch", "--settle", "1"], {
        env: { ...process.env, RAILYARD_CRASH_AT: step },
      });
      assert.equal(
        killed.signal ?? (killed.code === 137 ? "SIGKILL" : null),
        "SIGKILL",
        `killed at ${step}: ${killed.stdout}${killed.stderr}`,
      );
      assert.ok(existsSync(join(p.state, "activation.json")), "the journal is still there");
      const r = await sd.railyard([...cfg, "rollback", "--settle", "1"]);
      assert.equal(r.code, 0, r.stdout + r.stderr);
      assert.match(r.stdout, /to 1\n/);
      await assertBackOnOne(p, keepPid);
      p.write({});
      await sd.railyard([...cfg, "switch"]);
    });

  test("a failing switch SIGKILLed in the middle of its undo, then run again, fails and undoes itself again", async () => {
    const p = project();
    const { cfg, keepPid } = await goodThenBad(p);
    await sd.railyard([...cfg, "switch", "--settle", "1"], {
      env: { ...process.env, RAILYARD_CRASH_AT: "rollback-flipped" },
    });
    const again = await sd.railyard([...cfg, "switch", "--settle", "1"]);
    assert.equal(again.code, 1, again.stdout + again.stderr);
    assert.match(again.stdout, /rolled back to generation 1/);
    await assertBackOnOne(p, keepPid);
    p.write({});
    await sd.railyard([...cfg, "switch"]);
  });
});

describe("diff", () => {
  // The changed config is only built, never started: its published port would reach the host's
  // network, which this systemd shares.
  test("what a config change would do, per service and field, without any environment value; switch --dry-run shows the same", async () => {
    const p = project();
    const web = (secret: string, ports: string[] = []) => ({
      ...sleeper("web"),
      environment: { API_TOKEN: secret, MODE: "prod" },
      ...(ports.length ? { ports } : {}),
    });
    const cfg = p.write({ web: web("token-one-1234"), keep: sleeper("keep") });
    assert.equal((await sd.railyard([...cfg, "switch"])).code, 0);
    const same = await sd.railyard([...cfg, "diff"]);
    assert.match(same.stdout, /^no differences between generation 1 and /);

    p.write({
      web: web("token-two-5678", ["18091:80"]),
      keep: sleeper("keep"),
      more: sleeper("more"),
    });
    const d = await sd.railyard([...cfg, "diff"]);
    assert.equal(d.code, 0, d.stderr);
    assert.match(d.stdout, /^generation 1 → .*railyard\.config\.json$/m);
    assert.match(d.stdout, /^more \(added\)$/m);
    assert.match(
      d.stdout,
      /^web \(restarts\)\n {2}environment +~API_TOKEN\n {2}ports +\+127\.0\.0\.1:18091:80\n {2}network +none → private$/m,
    );
    assert.doesNotMatch(d.stdout, /^keep/m, "an unchanged service is not listed");
    const json = await sd.railyard([...cfg, "diff", "--json"]);
    const dry = await sd.railyard([...cfg, "switch", "--dry-run"]);
    assert.match(
      dry.stdout,
      /what changes:\n {2}more \(added\)\n {2}web \(restarts\)\n {4}environment +~API_TOKEN/,
    );
    assert.equal((await sd.railyard([...cfg, "build"])).code, 0);
    const between = await sd.railyard([...cfg, "diff", "1", "2"]);
    assert.match(between.stdout, /^generation 1 → generation 2$/m);
    assert.match(between.stdout, /~API_TOKEN/);
    for (const out of [d, json, dry, between])
      assert.doesNotMatch(out.stdout + out.stderr, /token-(one|two)/, "no value is ever printed");
    p.write({});
    await sd.railyard([...cfg, "switch"]);
  });
});

describe("railyard update", () => {
  test("a new digest behind a tag is built and switched; one that crash-loops is rolled back, the lock put back, onFailure told, and not tried again", async () => {
    const { startRegistry, buildImage, push, busyboxLayer } =
      await import("../helpers/registry.js");
    const registry = await startRegistry(join(dir, "update-registry"));
    try {
      const layout = join(dir, "update-layout");
      const release = (tag: string, script: string) => {
        buildImage(
          layout,
          tag,
          { layers: [busyboxLayer], config: { entrypoint: ["/bin/busybox", "sh", "-c", script] } },
          dir,
        );
        push(layout, tag, `${registry.host}/t/app:stable`);
      };
      const serve = (v: string) => `trap 'exit 0' TERM; echo app ${v}; while :; do sleep 1; done`;
      release("v1", serve("v1"));
      const seen = join(dir, "update-notified");
      const p = project();
      const top = {
        registries: { [registry.host]: { insecure: true } },
        onFailure: ["/bin/sh", "-c", `env | grep ^RAILYARD_ > ${seen}`],
      };
      const app = { image: `${registry.host}/t/app:stable` };
      const cfg = p.write({ app, keep: sleeper("keep") }, top);
      assert.equal((await sd.railyard([...cfg, "switch"])).code, 0);
      const lockFile = join(p.file, "..", "railyard.lock");
      const lockV1 = readFileSync(lockFile, "utf8");
      const v1 = (JSON.parse(lockV1) as { images: Record<string, { digest: string }> }).images;
      const v1Digest = Object.values(v1)[0]?.digest ?? "";
      // A second container pinned to v1 by digest: update never moves it.
      p.write(
        { app, keep: sleeper("keep"), pinned: { image: `${registry.host}/t/app@${v1Digest}` } },
        top,
      );
      assert.equal((await sd.railyard([...cfg, "switch"])).code, 0);
      const keepPid = mainPid(unit("keep"));
      const pinnedPid = mainPid(unit("pinned"));

      const none = await sd.railyard([...cfg, "update"]);
      assert.equal(none.code, 0, none.stderr);
      assert.match(none.stdout, /^nothing new: 1 image checked, each as locked$/m);
      assert.equal(current(p), "2");

      release("v2", serve("v2"));
      const dry = await sd.railyard([...cfg, "update", "--dry-run"]);
      assert.equal(dry.code, 0, dry.stderr);
      assert.match(dry.stdout, /app: .*\/t\/app:stable {2}sha256:\w{12} → sha256:\w{12}/);
      assert.match(dry.stdout, /what changes:\n {2}app \(restarts\)\n {4}digest /);
      assert.equal(readFileSync(lockFile, "utf8"), lockV1, "a dry run leaves the lock alone");
      assert.equal(current(p), "2");

      const up = await sd.railyard([...cfg, "update", "--settle", "1"]);
      assert.equal(up.code, 0, up.stdout + up.stderr);
      assert.match(
        up.stdout,
        /switched from generation 2 to 3\n {2}restart {4}app\n {2}unchanged {2}keep, pinned/,
      );
      await waitFor("app v2", () => /app v2/.test(journal("app")));
      const lockV2 = readFileSync(lockFile, "utf8");
      assert.notEqual(lockV2, lockV1);
      assert.equal(mainPid(unit("keep")), keepPid);
      assert.equal(mainPid(unit("pinned")), pinnedPid, "the pinned container was not touched");
      const appPid = mainPid(unit("app"));

      release("v3", `echo app v3; echo "panic: bad release"; exit 1`);
      const bad = await sd.railyard([...cfg, "update", "--settle", "1"]);
      assert.equal(bad.code, 1, bad.stdout + bad.stderr);
      assert.match(
        bad.stdout,
        /rolled back to generation 3: app (failed to start|did not stay up for 1 s)/,
      );
      assert.match(bad.stderr, /\| panic: bad release/);
      assert.equal(current(p), "3");
      assert.equal(readFileSync(lockFile, "utf8"), lockV2, "the lock names what runs again");
      await waitFor("app v2 again", () => active(unit("app")) === "active");
      const told = readFileSync(seen, "utf8");
      assert.match(told, /^RAILYARD_EVENT=update-failed$/m);
      assert.match(told, /^RAILYARD_GENERATION=4$/m);
      assert.match(told, /^RAILYARD_SERVICES=app$/m);

      // The next run finds the same bad digest: it does not take app down again.
      const pidBefore = mainPid(unit("app"));
      const again = await sd.railyard([...cfg, "update", "--settle", "1"]);
      assert.equal(again.code, 0, again.stdout + again.stderr);
      assert.match(again.stdout, /generation 4 had these images and failed at .*not switching/);
      assert.equal(mainPid(unit("app")), pidBefore);
      assert.notEqual(pidBefore, appPid, "the rollback restarted app once");
      assert.equal(readFileSync(lockFile, "utf8"), lockV2);
      p.write({});
      await sd.railyard([...cfg, "switch"]);
    } finally {
      await registry.stop();
    }
  });

  test("--install-timer installs a timer and service that systemd-analyze verifies; --remove-timer takes them away", async () => {
    const p = project();
    const cfg = p.write({ keep: sleeper("keep") });
    const bad = await sd.railyard([
      ...cfg,
      "update",
      "--install-timer",
      "--on-calendar",
      "someday",
    ]);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /--on-calendar "someday" is not a systemd calendar spec/);
    const r = await sd.railyard([
      ...cfg,
      "update",
      "--install-timer",
      "--on-calendar",
      "*-*-* 03:00:00",
    ]);
    assert.equal(r.code, 0, r.stderr);
    // This project's state dir is not the default one: its units carry its id scope.
    const names = /installed (railyard-update-[0-9a-f]{8})\.service and \1\.timer/.exec(r.stdout);
    assert.ok(names, r.stdout);
    const [service, timerUnit] = [`${names[1]}.service`, `${names[1]}.timer`];
    const svc = `/etc/systemd/system/${service}`;
    const tmr = `/etc/systemd/system/${timerUnit}`;
    const verify = sd.exec("systemd-analyze", ["verify", svc, tmr]);
    assert.equal(verify.code, 0, verify.stdout + verify.stderr);
    assert.match(
      sd.exec("cat", [svc]).stdout,
      new RegExp(`ExecStart=.* --config ${p.file} update$`, "m"),
    );
    const timer = sd.exec("cat", [tmr]).stdout;
    assert.match(timer, /^OnCalendar=\*-\*-\* 03:00:00$/m);
    assert.match(timer, /^RandomizedDelaySec=1h$/m);
    assert.match(timer, /^Persistent=true$/m);
    assert.equal(sd.exec("systemctl", ["is-enabled", timerUnit]).stdout.trim(), "enabled");
    assert.equal(active(timerUnit), "active");
    // What the timer starts works: the service runs railyard update for this config.
    assert.equal((await sd.railyard([...cfg, "switch"])).code, 0);
    const run = sd.exec("systemctl", ["start", service]);
    assert.equal(run.code, 0, run.stderr);
    assert.match(
      sd.exec("journalctl", ["-u", service, "-o", "cat", "--no-pager"]).stdout,
      /nothing new: 0 images checked/,
    );
    const rm = await sd.railyard([...cfg, "update", "--remove-timer"]);
    assert.equal(rm.code, 0, rm.stderr);
    assert.equal(sd.exec("test", ["-e", tmr]).code, 1);
    assert.equal(active(timerUnit), "inactive");
    p.write({});
    await sd.railyard([...cfg, "switch"]);
  });
});
