/**
 * environmentFiles under a real systemd with real runc: their values reach the process when it
 * starts, from a config composed on /run; no file under the state dir, no unit and nothing
 * systemd shows holds them; a changed value restarts exactly the service that reads it.
 */
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { runtimeId } from "../helpers/ids.js";
import { projects, sleeper } from "../helpers/project.js";
import { systemdSuite, waitFor } from "../helpers/systemd.js";

const { dir, sd } = systemdSuite("railyard-envfiles-");
const project = projects(dir);

const unit = (n: string) => `railyard-${n}.service`;
const mainPid = (n: string) => Number(sd.show(unit(n), "MainPID")["MainPID"]);
const active = (n: string) => sd.show(unit(n), "ActiveState")["ActiveState"];
/** The environment the container's process runs with, read from /proc. */
function environ(n: string): Record<string, string> {
  const raw = sd.exec("cat", [`/proc/${mainPid(n)}/environ`]).stdout;
  return Object.fromEntries(
    raw
      .split("\0")
      .filter((e) => e !== "")
      .map((e) => [e.slice(0, e.indexOf("=")), e.slice(e.indexOf("=") + 1)]),
  );
}

test("environmentFiles are read at start: the values reach the process and nothing on disk or in systemd holds them; a changed value restarts only its service", async () => {
  const p = project();
  const envFile = join(dir, "app.env");
  writeFileSync(envFile, 'TOKEN=envtok-one-Wd83\nQUOTED=a "b" \\c\nKEEP=from-file\n', {
    mode: 0o600,
  });
  const containers = {
    app: { ...sleeper("app"), environment: { KEEP: "from-config" }, environmentFiles: [envFile] },
    other: sleeper("other"),
  };
  const cfg = p.write(containers);
  const sw = await sd.railyard([...cfg, "switch"]);
  assert.equal(sw.code, 0, sw.stdout + sw.stderr);
  const env = environ("app");
  assert.equal(env["TOKEN"], "envtok-one-Wd83");
  assert.equal(env["QUOTED"], 'a "b" \\c', "as written, as docker's --env-file");
  assert.equal(env["KEEP"], "from-config", "environment wins over the files");

  // The composed config: root's alone, on /run, gone with the container.
  const id = runtimeId(p.state, "app");
  const composed = `/run/railyard/bundles/${id}`;
  assert.equal(
    sd.exec("stat", ["-c", "%a %U", composed]).stdout.trim(),
    "700 root",
    "the only file that holds the values is in a directory of root's alone, on a tmpfs",
  );
  assert.equal(
    sd.exec("stat", ["-c", "%a %U", `${composed}/config.json`]).stdout.trim(),
    "600 root",
    "and is root's alone itself, as the docs say",
  );

  const values = /envtok-one-Wd83/;
  const grep = (path: string) => sd.exec("grep", ["-rlE", values.source, path]).stdout.trim();
  assert.equal(grep(p.state), "", "no file under the state dir holds a value");
  assert.equal(grep("/etc/systemd/system"), "", "nor a unit file");
  assert.doesNotMatch(sd.exec("systemctl", ["show", unit("app")]).stdout, values);
  assert.doesNotMatch(sd.exec("journalctl", ["--no-pager", "-o", "verbose"]).stdout, values);

  // A new value: the dry run names it, the switch restarts app alone.
  const otherPid = mainPid("other");
  writeFileSync(envFile, "TOKEN=envtok-two-Rb52\nKEEP=from-file\n", { mode: 0o600 });
  const dry = await sd.railyard([...cfg, "switch", "--dry-run"]);
  assert.equal(dry.code, 0, dry.stderr);
  assert.match(dry.stdout, /^ {2}restart {4}app$/m);
  assert.match(dry.stdout, /start values +a secret or environmentFiles value changed/);
  const diff = await sd.railyard([...cfg, "diff"]);
  assert.match(diff.stdout, /^app \(restarts\)\n {2}start values/m, diff.stdout);
  assert.doesNotMatch(diff.stdout, /other|envtok/, "only app, and no value");
  const again = await sd.railyard([...cfg, "switch"]);
  assert.equal(again.code, 0, again.stdout + again.stderr);
  assert.match(again.stdout, /^ {2}restart {4}app$/m);
  assert.match(again.stdout, /^ {2}unchanged {2}other$/m);
  assert.equal(mainPid("other"), otherPid, "other was not touched");
  assert.equal(environ("app")["TOKEN"], "envtok-two-Rb52");
  assert.equal(environ("app")["QUOTED"], undefined, "a key gone from the file is gone");
  const same = await sd.railyard([...cfg, "switch"]);
  assert.match(same.stdout, /^ {2}unchanged {2}app, other$/m, "nothing changed, nothing restarts");

  // A file broken after the switch fails the start, named by its line, never shown.
  writeFileSync(envFile, "TOKEN=x\nthis-line-is-secret\n", { mode: 0o600 });
  const restart = sd.exec("systemctl", ["restart", unit("app")]);
  assert.notEqual(restart.code, 0);
  const log = sd.exec("journalctl", ["-u", unit("app"), "--no-pager", "-o", "cat"]).stdout;
  assert.match(log, /app\.env:2: expected KEY=value \(the line is not shown/);
  assert.doesNotMatch(log, /this-line-is-secret/);
  writeFileSync(envFile, "TOKEN=envtok-three\n", { mode: 0o600 });
  await waitFor(
    "app to come back once its file is fixed",
    () => active("app") === "active",
    20_000,
  );
  assert.equal(environ("app")["TOKEN"], "envtok-three");

  sd.exec("systemctl", ["stop", unit("app"), unit("other")]);
  assert.notEqual(sd.exec("stat", [composed]).code, 0, "the stop removes the composed config");
});
