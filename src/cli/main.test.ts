import assert from "node:assert/strict";
import { test } from "node:test";
import { main, takesArguments } from "./main.js";
import { judge } from "./control.js";

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
    ["down", /railyard stop --all/],
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
