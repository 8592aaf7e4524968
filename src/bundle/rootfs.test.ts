import assert from "node:assert/strict";
import { test } from "node:test";
import { resolveConfig } from "../config/resolve/index.js";
import { BuildError } from "../errors.js";
import { hostProcess } from "./process.js";
import { ensureDir, planRootfs, type RootfsEntry } from "./rootfs.js";
import { fakeContext } from "../../tests/helpers/context.js";

const ctx = fakeContext({ groupName: (g) => (g === 100 ? "users" : undefined) });

test("mount points are created through symlinks the way the runtime resolves them, never above /", () => {
  const plan = new Map<string, RootfsEntry>([
    ["/lib", { kind: "symlink", target: "usr/lib" }],
    ["/usr", { kind: "dir", mode: 0o755 }],
    ["/usr/lib", { kind: "dir", mode: 0o755 }],
    ["/escape", { kind: "symlink", target: "../../../outside" }],
  ]);
  assert.equal(ensureDir(plan, "/lib/data", "t"), "/usr/lib/data");
  assert.equal(plan.get("/usr/lib/data")?.kind, "dir");
  assert.equal(ensureDir(plan, "/escape/x", "t"), "/outside/x");
  plan.set("/file", { kind: "data", content: "", mode: 0o644 });
  assert.throws(() => ensureDir(plan, "/file/x", "t"), BuildError);
});

test("the rootfs has a minimal /etc with the container's user, and mount points", () => {
  const c = resolveConfig(
    {
      containers: {
        web: {
          args: ["/bin/true"],
          user: "2000:100",
          volumes: ["/srv/d:/data", "/srv/f.conf:/etc/app.conf:ro"],
        },
      },
    },
    ctx,
  ).containers["web"];
  assert.ok(c);
  const { entries: plan } = planRootfs(c, hostProcess(c, "/bin/true"), new Map(), {
    resolvConf: "nameserver 9.9.9.9\n",
    fileMounts: new Set(["/etc/app.conf"]),
  });
  const data = (p: string) => {
    const e = plan.get(p);
    return e?.kind === "data" ? e.content : undefined;
  };
  assert.equal(
    data("/etc/passwd"),
    "root:x:0:0:root:/root:/bin/sh\nu2000:x:2000:100:u2000:/:/bin/sh\n",
  );
  assert.equal(data("/etc/group"), "root:x:0:\nusers:x:100:\n");
  assert.match(data("/etc/hosts") ?? "", /127\.0\.1\.1\tweb/);
  assert.match(
    data("/etc/resolv.conf") ?? "",
    /network "none" has no DNS/,
    "no host DNS leaks into a network-less container",
  );
  assert.equal(plan.get("/data")?.kind, "dir");
  assert.equal(data("/etc/app.conf"), "", "a file bind mount gets a file mount point");
  for (const d of ["/proc", "/dev", "/sys"]) assert.equal(plan.get(d)?.kind, "dir");
  const keys = [...plan.keys()];
  assert.deepEqual(keys, [...keys].sort(), "parents come before children");
});

test("a host program's /etc carries the host's system accounts, never people's or a password", () => {
  const c = resolveConfig(
    { containers: { web: { args: ["/usr/sbin/nginx"], user: "33:33" } } },
    fakeContext({
      userName: (u) => (u === 33 ? "www-data" : undefined),
      groupName: (g) => (g === 33 ? "www-data" : undefined),
    }),
  ).containers["web"];
  assert.ok(c);
  const host = {
    passwd: [
      "root:x:0:0:root:/root:/bin/bash",
      "daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin",
      "www-data:x:33:33:www-data:/var/www:/usr/sbin/nologin",
      "postgres:$6$hash:105:110:PostgreSQL administrator:/var/lib/postgresql:/bin/bash",
      "alice:x:1000:1000:Alice:/home/alice:/bin/bash",
      "nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin",
      "broken line",
    ].join("\n"),
    group: [
      "root:x:0:",
      "www-data:x:33:",
      "ssl-cert:x:109:postgres,alice",
      "alice:x:1000:",
      "nogroup:x:65534:",
    ].join("\n"),
  };
  const { entries } = planRootfs(c, hostProcess(c, "/usr/sbin/nginx"), new Map(), {
    resolvConf: undefined,
    fileMounts: new Set(),
    hostAccounts: host,
  });
  const data = (p: string) => {
    const e = entries.get(p);
    return e?.kind === "data" ? e.content : "";
  };
  const passwd = data("/etc/passwd");
  const names = passwd
    .trim()
    .split("\n")
    .map((l) => l.split(":")[0]);
  // The container's own user comes last, as for any host program.
  assert.deepEqual(names, ["root", "daemon", "postgres", "nobody", "www-data"]);
  assert.match(passwd, /^postgres:x:105:110:/m, "a password field is always x");
  assert.doesNotMatch(passwd, /alice|\$6\$/);
  assert.equal(
    data("/etc/group"),
    "root:x:0:\nssl-cert:x:109:postgres\nnogroup:x:65534:\nwww-data:x:33:\n",
  );
});

test("a tmpfs mount point takes the tmpfs's mode (1777 unless mode= says), since runc copies it", () => {
  const c = resolveConfig(
    { containers: { t: { args: ["/bin/true"], tmpfs: ["/tmp", "/run/app:mode=0750,uid=33"] } } },
    ctx,
  ).containers["t"];
  assert.ok(c);
  const { entries } = planRootfs(c, hostProcess(c, "/bin/true"), new Map(), {
    resolvConf: undefined,
    fileMounts: new Set(),
  });
  assert.deepEqual(entries.get("/tmp"), { kind: "dir", mode: 0o1777 });
  assert.deepEqual(entries.get("/run/app"), { kind: "dir", mode: 0o750 });
});
