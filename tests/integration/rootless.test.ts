/**
 * Rootless mode (`railyard --user`) under a real systemd with real runc: a non-root user with
 * subordinate ids and lingering runs `railyard --user switch`, and its own systemd user manager
 * runs the containers in user namespaces. The user lives only in the namespace's overlay.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { scratchDir } from "../helpers/cli.js";
import { addTestUser, type TestUser } from "../helpers/rootless.js";
import { bootSystemd, parseShow, waitFor, type BootedSystemd } from "../helpers/systemd.js";

const { dir, cleanup } = scratchDir("railyard-rootless-");
let sd: BootedSystemd;
let rly: TestUser;
const SUB = 100000;

before(async () => {
  sd = await bootSystemd(join(dir, "ns"), []);
  rly = await addTestUser(sd, { name: "rly", uid: 1500, subStart: SUB, journal: true });
  // Host files the attack test goes after: root's, in a directory the container gets mounted.
  const r = sd.exec("/bin/sh", [
    "-ec",
    `mkdir -p /srv/shared/open
echo original > /srv/shared/root-owned
chmod 0644 /srv/shared/root-owned
chmod 0755 /srv/shared
chmod 1777 /srv/shared/open
echo secret > /etc/railyard-secret
chmod 0600 /etc/railyard-secret
# Debian's udev makes /dev/net/tun 0666 (pasta opens it as the user); this machine's is 0600.
mount -t tmpfs -o mode=0755 tmpfs /dev/net
mknod -m 0666 /dev/net/tun c 10 200`,
  ]);
  assert.equal(r.code, 0, r.stderr);
});
after(async () => {
  await sd?.stop();
  cleanup();
});

/** Write the user's config (as the user) and return the flags that select it. */
function config(
  name: string,
  containers: Record<string, unknown>,
  top: Record<string, unknown> = {},
): string[] {
  const file = `${rly.home}/${name}/railyard.config.json`;
  const w = rly.run(
    "/bin/sh",
    ["-c", `mkdir -p "$(dirname ${file})" && cat > ${file}`],
    JSON.stringify({ runtime: "runc", ...top, containers }, null, 2),
  );
  assert.equal(w.code, 0, w.stderr);
  return ["--config", file];
}

/** `systemctl --user show` of one of the user's units. */
function showUser(unit: string, ...props: string[]): Record<string, string> {
  const r = rly.run("systemctl", ["--user", "show", ...props.flatMap((p) => ["-p", p]), unit]);
  return parseShow(r.stdout);
}

const statIds = (path: string) => sd.exec("stat", ["-c", "%u:%g", path]).stdout.trim();
const hostUidOf = (pid: string) =>
  /^Uid:\s+(\d+)/m.exec(sd.exec("cat", [`/proc/${pid}/status`]).stdout)?.[1];

describe("railyard --user", () => {
  test("a user's containers run under its own systemd, in a user namespace, and come back after a crash", async () => {
    const flags = config("app", {
      app: {
        args: [
          "/bin/busybox",
          "sh",
          "-c",
          "id > /data/id; echo app started; exec busybox sleep 100000",
        ],
        user: "2000:100",
        volumes: [`${rly.home}/data:/data`],
        restart: "always",
        stopSignal: "SIGKILL",
      },
    });
    const sw = rly.railyard(["--user", ...flags, "switch"]);
    assert.equal(sw.code, 0, sw.stderr);
    assert.match(sw.stdout, /start\s+app/);

    // The user's manager runs it; the system manager knows nothing of it.
    const s = showUser("railyard-app.service", "ActiveState", "MainPID", "ControlGroup");
    assert.equal(s["ActiveState"], "active");
    assert.match(s["ControlGroup"] ?? "", /^\/user\.slice\/user-1500\.slice\/user@1500\.service\//);
    assert.notEqual(
      sd.exec("systemctl", ["is-active", "railyard-app.service"]).stdout.trim(),
      "active",
    );
    // Units and state live in the user's XDG dirs.
    assert.equal(
      sd.exec("test", ["-L", `${rly.home}/.config/systemd/user/railyard-app.service`]).code,
      0,
    );
    assert.equal(
      sd.exec("test", ["-d", `${rly.home}/.local/state/railyard/generations/1`]).code,
      0,
    );

    // Container uid 2000 is subordinate id SUB+1999 on the host, for the process and its files.
    const pid = s["MainPID"] ?? "0";
    assert.equal(hostUidOf(pid), String(SUB + 1999));
    await waitFor(
      "the app's id file",
      () => sd.exec("test", ["-s", `${rly.home}/data/id`]).code === 0,
    );
    assert.match(sd.exec("cat", [`${rly.home}/data/id`]).stdout, /^uid=2000\(\w+\) gid=100\(\w+\)/);
    assert.equal(statIds(`${rly.home}/data`), `${SUB + 1999}:${SUB + 99}`);
    assert.equal(statIds(`${rly.home}/data/id`), `${SUB + 1999}:${SUB + 99}`);

    // status and logs speak to the user's manager and journal.
    const st = rly.railyard(["--user", ...flags, "status", "--json"]);
    assert.equal(st.code, 0, st.stderr);
    assert.equal((JSON.parse(st.stdout) as { state: string }[])[0]?.state, "active/running");
    await waitFor("the app's journal", () =>
      rly.railyard(["--user", ...flags, "logs", "app"]).stdout.includes("app started"),
    );

    // A crash: the user manager restarts the container.
    assert.equal(sd.exec("kill", ["-9", pid]).code, 0);
    await waitFor("the restart", () => {
      const r = showUser("railyard-app.service", "ActiveState", "MainPID", "NRestarts");
      return r["ActiveState"] === "active" && r["MainPID"] !== pid && r["MainPID"] !== "0";
    });
    assert.equal(showUser("railyard-app.service", "NRestarts")["NRestarts"], "1");

    // A second generation, then a rollback to the first.
    const flags2 = config("app", {
      app: {
        args: ["/bin/busybox", "sh", "-c", "echo generation two; exec busybox sleep 100000"],
        user: "2000:100",
        restart: "always",
        stopSignal: "SIGKILL",
      },
    });
    const sw2 = rly.railyard(["--user", ...flags2, "switch"]);
    assert.equal(sw2.code, 0, sw2.stderr);
    assert.match(sw2.stdout, /from generation 1 to 2[\s\S]*restart\s+app/);
    const rb = rly.railyard(["--user", ...flags2, "rollback"]);
    assert.equal(rb.code, 0, rb.stderr);
    assert.match(rb.stdout, /from generation 2 to 1/);
    assert.equal(showUser("railyard-app.service", "ActiveState")["ActiveState"], "active");
    assert.match(
      rly.run("readlink", [`${rly.home}/.local/state/railyard/current`]).stdout,
      /generations\/1\n$/,
    );
  });

  test("attack: root in a rootless container cannot write host files outside its own mounts", async () => {
    // The attacker is root inside the container, with the shared host directory mounted rw.
    const attack = [
      'try() { if sh -c "$2" 2>/dev/null; then echo "$1 WRITTEN"; else echo "$1 denied"; fi; }',
      "try root-owned 'echo pwned >> /shared/root-owned'",
      "try new-file 'echo pwned > /shared/planted'",
      "try chmod 'chmod 0666 /shared/root-owned'",
      "try sysrq 'echo h > /proc/sysrq-trigger'",
      "try sysfs 'echo 1 > /sys/kernel/mm/ksm/run'",
      "try mknod 'mknod /tmp/disk b 8 0 && cat /tmp/disk > /dev/null'",
      "try remount 'mount -o remount,rw /'",
      "try open-dir 'echo mine > /shared/open/by-container'",
    ].join("\n");
    const flags = config("attack", {
      attack: {
        args: ["/bin/busybox", "sh", "-c", attack],
        user: "0:0",
        volumes: ["/srv/shared:/shared"],
        restart: "no",
      },
    });
    const r = rly.railyard(["--user", ...flags, "run", "attack"]);
    assert.equal(r.code, 0, r.stderr);
    for (const what of ["root-owned", "new-file", "chmod", "sysrq", "sysfs", "mknod", "remount"])
      assert.match(r.stdout, new RegExp(`^${what} denied$`, "m"), r.stdout);
    // The one place it may write (a world-writable dir) gets a file owned by the user, not root.
    assert.match(r.stdout, /^open-dir WRITTEN$/m);
    assert.equal(statIds("/srv/shared/open/by-container"), "1500:1500");
    assert.equal(sd.exec("cat", ["/srv/shared/root-owned"]).stdout, "original\n");
    assert.equal(sd.exec("stat", ["-c", "%a", "/srv/shared/root-owned"]).stdout.trim(), "644");
    assert.notEqual(sd.exec("test", ["-e", "/srv/shared/planted"]).code, 0);

    // The same container run by root (no user namespace) does write root's file: the user
    // namespace, not the mount options, is what stops it.
    const asRoot = await sd.railyard([
      ...flags,
      "--state-dir",
      "/var/lib/railyard-attack",
      "run",
      "attack",
    ]);
    assert.equal(asRoot.code, 0, asRoot.stderr);
    assert.match(asRoot.stdout, /^root-owned WRITTEN$/m);
  });

  test("secrets and environmentFiles reach a user's container at start, owned by its mapped user, and stay off disk", async () => {
    // The user's own files, readable by the user alone.
    const w = rly.run("/bin/sh", [
      "-ec",
      `mkdir -p ${rly.home}/private
printf rootless-pw-Kx29 > ${rly.home}/private/pw
printf 'TOKEN=rootless-tok-Nf61\n' > ${rly.home}/private/app.env
chmod 0600 ${rly.home}/private/pw ${rly.home}/private/app.env`,
    ]);
    assert.equal(w.code, 0, w.stderr);
    const flags = config(
      "secrets",
      {
        vault: {
          args: [
            "/bin/busybox",
            "sh",
            "-c",
            'stat -c "%u %g %a" /run/secrets/pw > /seen/out; cat /run/secrets/pw >> /seen/out; echo " $TOKEN" >> /seen/out; exec busybox sleep 100000',
          ],
          user: "2000:100",
          volumes: [`${rly.home}/seen:/seen`],
          secrets: [{ source: "pw", uid: 2000, gid: 100, mode: "0400" }],
          environmentFiles: [`${rly.home}/private/app.env`],
          stopSignal: "SIGKILL",
        },
      },
      { secrets: { pw: { file: `${rly.home}/private/pw` } } },
    );
    const sw = rly.railyard(["--user", ...flags, "switch"]);
    assert.equal(sw.code, 0, sw.stdout + sw.stderr);
    await waitFor(
      "the container's report",
      () => sd.exec("cat", [`${rly.home}/seen/out`]).stdout.includes("rootless-tok-Nf61"),
      15_000,
      () =>
        rly.run("systemctl", ["--user", "status", "--no-pager", "-l", "railyard-vault.service"])
          .stdout,
    );
    assert.equal(
      sd.exec("cat", [`${rly.home}/seen/out`]).stdout,
      "2000 100 400\nrootless-pw-Kx29 rootless-tok-Nf61\n",
      "the secret is the container user's, 0400, and the env file's value is in its environment",
    );
    // exec reaches the user's container through its runtime state root, as its user.
    const ex = rly.railyard([
      "--user",
      ...flags,
      "exec",
      "vault",
      "--",
      "/bin/busybox",
      "sh",
      "-c",
      'id -u; cat /run/secrets/pw; echo " $TOKEN"; exit 3',
    ]);
    assert.equal(ex.code, 3, ex.stderr);
    assert.equal(ex.stdout, "2000\nrootless-pw-Kx29 rootless-tok-Nf61\n");
    // top: container uid 2000 is a subordinate uid on the host.
    const top = rly.railyard(["--user", ...flags, "top", "vault", "--json"]);
    assert.equal(top.code, 0, top.stderr);
    const init = (
      JSON.parse(top.stdout) as { containerPid: number; uid: number; hostUid: number }[]
    ).find((r) => r.containerPid === 1);
    assert.deepEqual([init?.uid, init?.hostUid], [2000, SUB + 1999]);
    const values = "rootless-pw-Kx29|rootless-tok-Nf61";
    for (const where of [`${rly.home}/.local/state`, `${rly.home}/.config/systemd/user`])
      assert.equal(sd.exec("grep", ["-rlE", values, where]).stdout.trim(), "", where);

    // An encrypted credential needs the host's key: refused for a user, with what to do.
    const sealed = config(
      "sealed",
      { vault: { args: ["/bin/busybox", "true"], secrets: ["pw"] } },
      { secrets: { pw: { encrypted: `${rly.home}/private/pw.cred` } } },
    );
    const refused = rly.railyard(["--user", ...sealed, "check"]);
    assert.equal(refused.code, 2);
    assert.match(
      refused.stderr,
      /containers\.vault\.secrets\[0\]: .*encrypted with the host's key/,
    );
    rly.run("systemctl", ["--user", "stop", "railyard-vault.service"]);
  });

  test("what needs root is refused with the key and the reason, and nothing is written", async () => {
    const flags = config(
      "ports",
      {
        web: { args: ["/bin/busybox", "httpd", "-f"], network: "lan" },
        big: { args: ["/bin/busybox", "true"], user: "70000:70000", network: "none" },
      },
      { networks: { lan: {} } },
    );
    const r = rly.railyard(["--user", ...flags, "switch"]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /containers\.web\.network: named networks need root/);
    assert.match(
      r.stderr,
      /containers\.big\.user: uid 70000 is outside the ids a rootless container maps \(0-65536/,
    );
    assert.equal(
      sd.exec("test", ["-e", `${rly.home}/.config/systemd/user/railyard-web.service`]).code,
      1,
    );

    // Without --user, a non-root user is told to use it; root is told not to.
    const plain = rly.railyard([
      ...config("plain", { a: { args: ["/bin/busybox", "true"] } }),
      "switch",
    ]);
    assert.equal(plain.code, 2);
    assert.match(plain.stderr, /railyard --user switch/);
    const root = await sd.railyard(["--user", ...flags, "switch"]);
    assert.equal(root.code, 2);
    assert.match(root.stderr, /as root, leave --user out/);
  });

  test("a user with no login session (su, cron) runs a container in the foreground; switch says what it needs", async () => {
    const su = await addTestUser(sd, {
      name: "nolog",
      uid: 1501,
      subStart: SUB + 65536,
      linger: false,
    });
    assert.equal(sd.exec("test", ["-e", "/run/user/1501"]).code, 1, "no manager, no /run/user");
    const file = `${su.home}/railyard.config.json`;
    const cfg = { runtime: "runc", containers: { hi: { args: ["/bin/busybox", "echo", "hi"] } } };
    su.run("/bin/sh", ["-c", `cat > ${file}`], JSON.stringify(cfg));
    const flags = ["--user", "--config", file];

    const run = su.railyard([...flags, "run", "hi"]);
    assert.equal(run.code, 0, run.stderr);
    assert.equal(run.stdout, "hi\n");
    // Its runtime files went to a private directory of its own, as podman's do.
    assert.equal(sd.exec("stat", ["-c", "%u %a", "/tmp/railyard-run-1501"]).stdout, "1501 700\n");
    for (const cmd of ["check", "build"])
      assert.equal(su.railyard([...flags, cmd]).code, 0, `${cmd} needs no manager either`);

    // A service does need the user's manager: switch says how to get one, and changes nothing.
    const sw = su.railyard([...flags, "switch"]);
    assert.equal(sw.code, 1, sw.stderr);
    assert.match(sw.stderr, /needs nolog's systemd user manager.*loginctl enable-linger nolog/);
    assert.equal(sd.exec("test", ["-e", `${su.home}/.config/systemd/user`]).code, 1);

    // A directory of that name that someone else made first is refused, never used.
    sd.exec("/bin/sh", [
      "-c",
      "rm -rf /tmp/railyard-run-1501 && mkdir -m 1777 /tmp/railyard-run-1501",
    ]);
    const taken = su.railyard([...flags, "run", "hi"]);
    assert.equal(taken.code, 1, taken.stderr);
    assert.match(
      taken.stderr,
      /\/tmp\/railyard-run-1501 belongs to uid 0, not 1501, so nolog's runtime files cannot go there/,
    );
  });

  test("network private with pasta: a published port answers curl on the host; nothing else gets in or back", async () => {
    const www = `${rly.home}/www`;
    const w = rly.run("/bin/sh", ["-c", `mkdir -p ${www} && echo rootless > ${www}/index.html`]);
    assert.equal(w.code, 0, w.stderr);
    // A server on the host's loopback that the container must not reach through pasta.
    sd.exec("/bin/sh", ["-c", "mkdir -p /srv/hostonly && echo host > /srv/hostonly/index.html"]);
    sd.exec("busybox", ["httpd", "-p", "127.0.0.1:18099", "-h", "/srv/hostonly"]);
    const flags = config("pasta", {
      web: {
        args: ["/bin/busybox", "httpd", "-f", "-p", "80", "-h", "/www"],
        volumes: [`${www}:/www:ro`],
        include: ["/usr/bin/curl"],
        user: "2000:100",
        ports: ["127.0.0.1:18090:80"],
        stopSignal: "SIGKILL",
      },
    });
    const r = rly.railyard(["--user", ...flags, "switch"]);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    await waitFor(
      "the rootless container on 127.0.0.1:18090",
      () =>
        sd.exec("curl", ["-sS", "-m", "3", "http://127.0.0.1:18090/"]).stdout.trim() === "rootless",
      20_000,
      () => rly.run("journalctl", ["--user", "--no-pager", "-n", "30"]).stdout,
    );
    const pid = showUser("railyard-web.service", "MainPID")["MainPID"] ?? "0";
    // Its own network namespace, with pasta's interface, not the host's.
    const ns = (p: string) => sd.exec("readlink", [`/proc/${p}/ns/net`]).stdout.trim();
    assert.notEqual(ns(pid), ns("1"));
    const exec = (...cmd: string[]) =>
      rly.railyard(["--user", ...flags, "exec", "web", "--", ...cmd]);
    assert.match(exec("/bin/busybox", "ip", "-4", "addr", "show", "dev", "eth0").stdout, /inet /);
    // The host's loopback stays the host's: not through localhost, not through the gateway.
    assert.equal(exec("/usr/bin/curl", "-sS", "-m", "2", "http://127.0.0.1:18099/").stdout, "");
    const gw = /default via (\S+)/.exec(exec("/bin/busybox", "ip", "route").stdout)?.[1] ?? "";
    assert.notEqual(gw, "");
    assert.equal(exec("/usr/bin/curl", "-sS", "-m", "2", `http://${gw}:18099/`).stdout, "");
    // Stopping it closes the port (pasta goes with the service).
    rly.run("systemctl", ["--user", "stop", "railyard-web.service"]);
    assert.equal(sd.exec("curl", ["-sS", "-m", "2", "http://127.0.0.1:18090/"]).stdout, "");
  });

  test("railyard --user doctor passes for a user set up this way", () => {
    const r = rly.railyard(["--user", "doctor", "--json"]);
    const checks = JSON.parse(r.stdout) as { name: string; ok: boolean }[];
    const by = Object.fromEntries(checks.map((c) => [c.name, c.ok]));
    assert.equal(by["subordinate uids"], true);
    assert.equal(by["subordinate gids"], true);
    assert.equal(by["newuidmap/newgidmap"], true);
    assert.equal(by["lingering"], true);
    assert.equal(by["journal access"], true);
  });
});
