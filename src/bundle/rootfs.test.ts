import assert from "node:assert/strict";
import { test } from "node:test";
import { resolveConfig } from "../config/resolve.js";
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
