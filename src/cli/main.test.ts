import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { main, takesArguments } from "./main.js";
import { judge } from "./control.js";
import { toEvent } from "./events.js";

test("a command takes arguments only when its usage line names one besides flags", () => {
  for (const u of [
    "railyard check",
    "railyard generations",
    "railyard switch [--dry-run] [--settle S]",
    "railyard gc [--keep N] [--dry-run]",
    "railyard rollback [--to N] [--dry-run]",
  ])
    assert.equal(takesArguments(u), false, u);
  for (const u of [
    "railyard run NAME [-t] [-- ARGS...]",
    "railyard status [NAME] [--json]",
    "railyard build [NAME...] [--force]",
    "railyard import compose FILE [--format ts|json|yaml] [--volumes-dir DIR]",
  ])
    assert.equal(takesArguments(u), true, u);
});

/** The CLI as a function, with its output collected. */
async function cli(...argv: string[]) {
  let out = "";
  let err = "";
  const code = await main(argv, {
    stdout: (s) => (out += s),
    stderr: (s) => (err += s),
    env: {},
    cwd: "/",
  });
  return { code, out, err };
}

test("a docker verb railyard has no command for names the one that does the job", async () => {
  for (const [verb, want] of [
    ["up", /no "up" command: railyard switch/],
    ["rm", /remove the container from the config, then railyard switch/],
    ["kill", /railyard stop NAME/],
  ] as const) {
    const r = await cli(verb);
    assert.equal(r.code, 2, verb);
    assert.match(r.err, want);
    assert.doesNotMatch(r.err, /Commands:/, "the hint, not the whole help");
  }
  const other = await cli("frob");
  assert.match(other.err, /unknown command "frob"\n\n.*Commands:/s);
});

test("ps is status, as docker ps is; help names start, stop and restart", async () => {
  const ps = await cli("help", "ps");
  assert.equal(ps.code, 0);
  assert.match(ps.out, /railyard status \[NAME\.\.\.\] \[--json\]/);
  const help = await cli("--help");
  for (const c of ["start", "stop", "restart"]) assert.match(help.out, new RegExp(`^  ${c} `, "m"));
});

test("start, stop and restart judge each service by its state after the job, with systemd's reason", () => {
  assert.deepEqual(
    judge("restart", "db", { ActiveState: "active", SubState: "running", MainPID: "42" }),
    { name: "db", ok: true, state: "active/running", mainPid: 42 },
  );
  assert.deepEqual(
    judge("start", "db", {
      ActiveState: "failed",
      SubState: "failed",
      MainPID: "0",
      Result: "exit-code",
      ExecMainStatus: "3",
    }),
    {
      name: "db",
      ok: false,
      state: "failed/failed",
      mainPid: 0,
      reason: "exit-code, exit status 3",
    },
  );
  assert.equal(judge("stop", "db", { ActiveState: "inactive", SubState: "dead" }).ok, true);
  assert.equal(judge("stop", "db", { ActiveState: "failed", SubState: "failed" }).ok, true);
  assert.equal(
    judge("stop", "db", { ActiveState: "deactivating", SubState: "stop-sigterm" }).reason,
    "still deactivating/stop-sigterm",
  );
});

test("events: a journal entry of ours becomes an event; a control process's exit and other units are not events", () => {
  const units = new Map([["railyard-db.service", "db"]]);
  const at = { __REALTIME_TIMESTAMP: "1764633600000000" };
  assert.deepEqual(
    toEvent(
      {
        ...at,
        MESSAGE_ID: "98e322203f7a4ed290d09fe03c09fe15",
        UNIT: "railyard-db.service",
        MESSAGE: "railyard-db.service: Main process exited, code=exited, status=1/FAILURE",
        EXIT_CODE: "exited",
        EXIT_STATUS: "1",
      },
      units,
    ),
    { time: "2025-12-02T00:00:00.000Z", event: "die", service: "db", detail: "exited, status 1" },
  );
  const control = {
    ...at,
    MESSAGE_ID: "98e322203f7a4ed290d09fe03c09fe15",
    UNIT: "railyard-db.service",
    MESSAGE: "railyard-db.service: Control process exited, code=exited, status=1/FAILURE",
  };
  assert.equal(toEvent(control, units), undefined);
  const other = { ...at, MESSAGE_ID: "39f53479d3a045ac8e11786248231fbf", UNIT: "cron.service" };
  assert.equal(toEvent(other, units), undefined);
  assert.equal(
    toEvent(
      { ...at, USER_UNIT: "railyard-db.service", MESSAGE_ID: "39f53479d3a045ac8e11786248231fbf" },
      units,
    )?.event,
    "start",
    "a user manager's unit",
  );
  assert.deepEqual(
    toEvent(
      {
        ...at,
        SYSLOG_IDENTIFIER: "db-health",
        MESSAGE: "db: 3 failed checks in a row, restarting",
      },
      units,
    ),
    {
      time: "2025-12-02T00:00:00.000Z",
      event: "health-restart",
      service: "db",
      detail: "3 failed checks in a row, restarting",
    },
  );
  const health = (MESSAGE: string) =>
    toEvent({ ...at, SYSLOG_IDENTIFIER: "db-health", MESSAGE }, units)?.event;
  assert.equal(health("db: check failed (1 of 3)"), "unhealthy");
  assert.equal(health("db: healthy again"), "healthy");
  assert.equal(health("something else"), undefined);
  assert.deepEqual(
    toEvent(
      {
        ...at,
        SYSLOG_IDENTIFIER: "railyard",
        MESSAGE: "rollback from generation 2 to 1: restart db",
      },
      units,
    ),
    {
      time: "2025-12-02T00:00:00.000Z",
      event: "rollback",
      service: null,
      detail: "from generation 2 to 1: restart db",
    },
  );
});

test("down is a command of its own, as compose's: its help says rollback undoes it", async () => {
  const r = await cli("down", "--help");
  assert.equal(r.code, 0, r.err);
  assert.match(r.out, /^Usage: railyard down \[--dry-run\]/m);
  assert.match(r.out, /railyard rollback/);
});

test("--profile picks a compose file's opt-in services, and is refused for a railyard config", async () => {
  const dir = mkdtempSync(join(tmpdir(), "railyard-profile-"));
  try {
    const compose = join(dir, "compose.yaml");
    writeFileSync(
      compose,
      "services:\n  app: { image: nginx }\n  backup: { image: restic/restic, profiles: [backup] }\n",
    );
    const names = async (...flags: string[]) => {
      const r = await cli("-c", compose, ...flags, "--json", "check");
      assert.equal(r.code, 0, r.err);
      return Object.keys((JSON.parse(r.out) as { containers: object }).containers).sort();
    };
    assert.deepEqual(await names(), ["app"]);
    assert.deepEqual(await names("--profile", "backup"), ["app", "backup"]);
    const unknown = await cli("-c", compose, "--profile", "nightly", "check");
    assert.equal(unknown.code, 2);
    assert.match(unknown.err, /nightly/);
    const own = join(dir, "railyard.config.json");
    writeFileSync(own, JSON.stringify({ containers: { app: { image: "nginx" } } }));
    const r = await cli("-c", own, "--profile", "backup", "check");
    assert.equal(r.code, 2);
    assert.match(r.err, /--profile is for a compose file given as the config/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
