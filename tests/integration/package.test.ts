/**
 * The Debian package, as a user gets it: `npm run deb`'s .deb passes lintian, and installs with
 * dpkg into a fresh Debian 12 (made by mmdebstrap) that has only the package's dependencies, from
 * apt, and no Node.js. There railyard answers --version, checks the TypeScript example config,
 * has its man page and bash completion, and its removal leaves the state and services alone.
 */
import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import { copyFileSync, existsSync, mkdirSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { scratchDir } from "../helpers/cli.js";
import { baseTar } from "../helpers/debian-images.js";
import { REPO_ROOT } from "../helpers/paths.js";

const { dir, cleanup } = scratchDir("railyard-package-");
after(cleanup);
const root = join(dir, "root");
let deb = "";

/** The first alternative of each relation in a Depends field, without its version. */
const firstChoices = (field: string) =>
  field.split(",").map((rel) => rel.split("|")[0]!.trim().split(/\s/)[0]!);

before(() => {
  deb = execFileSync(
    process.execPath,
    [join(REPO_ROOT, "scripts/deb.mjs"), "--out", join(dir, "out")],
    {
      encoding: "utf8",
    },
  ).trim();
  // What a user has: the package's dependencies from apt (runc for "runc | crun"), plus man and
  // bash's completion, as a standard Debian install has them.
  const depends = execFileSync("dpkg-deb", ["--field", deb, "Depends"], { encoding: "utf8" });
  const tar = baseTar([...firstChoices(depends), "man-db", "bash-completion"], { host: true });
  mkdirSync(root);
  execFileSync("tar", ["-xf", tar, "-C", root]);
  copyFileSync(deb, join(root, "tmp/railyard.deb"));
});

/** Runs a bash script in the rootfs, in its own mount and pid namespaces with /proc mounted. */
function inRoot(script: string) {
  const r = spawnSync(
    "unshare",
    [
      ...["--mount", "--pid", "--fork", `--mount-proc=${join(root, "proc")}`],
      ...["chroot", root, "/bin/bash", "-c", script],
    ],
    {
      encoding: "utf8",
      env: { PATH: "/usr/sbin:/usr/bin:/sbin:/bin", HOME: "/root", LANG: "C.UTF-8" },
    },
  );
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

test("lintian finds no errors in the package", () => {
  const r = spawnSync("lintian", ["--fail-on", "error", "--tag-display-limit", "0", deb], {
    encoding: "utf8",
  });
  assert.equal(r.status, 0, `${r.stdout}${r.stderr}`);
  assert.doesNotMatch(r.stdout, /^E: /m, r.stdout);
});

test("dpkg -i installs it on a Debian 12 without Node.js; railyard works from PATH", () => {
  const none = inRoot("command -v node nodejs; dpkg-query -W nodejs");
  assert.equal(none.stdout.trim(), "", "the rootfs has no Node.js");

  const i = inRoot("dpkg -i /tmp/railyard.deb");
  assert.equal(i.code, 0, i.stdout + i.stderr);

  const version = inRoot("railyard --version");
  assert.equal(version.code, 0, version.stderr);
  assert.match(version.stdout, /^railyard \d+\.\d+\.\d+ \(commit [0-9a-f]{12}(-dirty)?\)\n$/);

  // The README's example, a TypeScript config: compiled by the package's own esbuild.
  mkdirSync(join(root, "root/hello"), { recursive: true });
  copyFileSync(
    join(REPO_ROOT, "examples/hello/railyard.config.ts"),
    join(root, "root/hello/railyard.config.ts"),
  );
  const check = inRoot("cd /root/hello && railyard check --json");
  assert.equal(check.code, 0, check.stderr);
  const resolved = JSON.parse(check.stdout) as { containers: Record<string, unknown> };
  assert.deepEqual(Object.keys(resolved.containers).sort(), ["hello", "python"]);

  // A YAML config: read by the package's own yaml.
  writeFileSync(
    join(root, "root/hello/railyard.config.yaml"),
    "containers:\n  web:\n    image: docker.io/library/nginx:1.27\n    ports: ['8080:80']\n",
  );
  const yaml = inRoot("cd /root/hello && railyard --config railyard.config.yaml check");
  assert.equal(yaml.code, 0, yaml.stderr);
  assert.match(yaml.stdout, /1 container: web/);
  const help = inRoot("railyard --help");
  assert.equal(help.code, 0, help.stderr);
  assert.match(help.stdout, /^Usage: railyard <command>/m);

  const man = inRoot("man -w railyard; man -w railyard-switch");
  assert.equal(man.code, 0, man.stderr);
  assert.deepEqual(man.stdout.trim().split("\n"), [
    "/usr/share/man/man1/railyard.1.gz",
    "/usr/share/man/man1/railyard-switch.1.gz",
  ]);
  const page = inRoot("MANWIDTH=200 man railyard-switch | head -20");
  assert.match(page.stdout, /railyard switch/);

  // As on TAB in an interactive bash: bash-completion loads the package's script on demand.
  const tab = inRoot(`source /usr/share/bash-completion/bash_completion
_completion_loader railyard
fn=$(complete -p railyard | sed -n 's/.*-F \\([^ ]*\\).*/\\1/p')
COMP_WORDS=(railyard sw); COMP_CWORD=1; COMP_LINE="railyard sw"; COMP_POINT=11
"$fn" railyard sw railyard; printf '%s\\n' "\${COMPREPLY[@]}"`);
  assert.equal(tab.code, 0, tab.stderr);
  assert.equal(tab.stdout, "switch\n");
  assert.ok(existsSync(join(root, "usr/share/zsh/vendor-completions/_railyard")));
});

test("removing the package leaves the state dir and the services alone, and says so", () => {
  // What a switch leaves on a host: a generation in the state dir, a unit in /etc.
  mkdirSync(join(root, "var/lib/railyard/generations/1"), { recursive: true });
  writeFileSync(join(root, "var/lib/railyard/generations/1/config.json"), "{}\n");
  writeFileSync(join(root, "etc/systemd/system/railyard-web.service"), "[Service]\n");
  for (const action of ["--remove", "--purge"]) {
    const r = inRoot(`dpkg ${action} railyard`);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /what railyard set up is left as it was/);
    assert.match(r.stdout, /keep running/);
    assert.match(r.stdout, /\/var\/lib\/railyard/);
  }
  assert.ok(!existsSync(join(root, "usr/bin/railyard")), "the command is gone");
  assert.ok(!existsSync(join(root, "usr/lib/railyard")), "its runtime is gone");
  assert.deepEqual(readdirSync(join(root, "var/lib/railyard/generations")), ["1"]);
  assert.ok(existsSync(join(root, "etc/systemd/system/railyard-web.service")));
});
