/**
 * Config fields that change what a running container can see or do, each checked from inside a
 * real runc container.
 */
import assert from "node:assert/strict";
import { mkdirSync, readFileSync, readdirSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, test } from "node:test";
import { railyard, scratchDir } from "../helpers/cli.js";

const { dir, cleanup } = scratchDir();
after(cleanup);
const state = join(dir, "state");

async function run(
  container: Record<string, unknown>,
  extra: string[] = [],
): Promise<{ stdout: string; stderr: string; code: number | null }> {
  const file = join(dir, "railyard.config.json");
  writeFileSync(file, JSON.stringify({ stateDir: state, containers: { t: container } }));
  return railyard(["--config", file, "run", "t", ...extra]);
}
const sh = (script: string) => ["/bin/busybox", "sh", "-c", script];

test('network "none" has only loopback; "host" sees the host\'s interfaces', async () => {
  const none = await run({ args: sh("ls /sys/class/net") });
  assert.equal(none.stdout, "lo\n", none.stderr);
  const host = await run({ args: sh("ls /sys/class/net"), network: "host" });
  assert.deepEqual(host.stdout.trim().split(/\s+/).sort(), readdirSync("/sys/class/net").sort());
});

test("capabilities: the runc default set cannot chown; adding CAP_CHOWN can", async () => {
  const script = "touch /tmp/f && chown 123 /tmp/f && echo chowned || echo denied";
  const base = { args: sh(script), tmpfs: ["/tmp"] };
  assert.equal((await run(base)).stdout, "denied\n");
  assert.equal((await run({ ...base, capabilities: { CHOWN: true } })).stdout, "chowned\n");
  const dropped = await run({
    args: sh("grep CapBnd /proc/self/status"),
    capabilities: { KILL: false },
  });
  // CAP_AUDIT_WRITE (29) and CAP_NET_BIND_SERVICE (10) remain: bits 29 and 10.
  assert.equal(
    dropped.stdout.trim(),
    `CapBnd:\t${((1n << 29n) | (1n << 10n)).toString(16).padStart(16, "0")}`,
  );
});

test("no_new_privileges is set and the masked paths are masked", async () => {
  const r = await run({
    args: sh(
      "grep NoNewPrivs /proc/self/status; cat /proc/kcore | wc -c; touch /proc/sys/x 2>/dev/null || echo ro",
    ),
  });
  assert.equal(r.stdout, "NoNewPrivs:\t1\n0\nro\n", r.stderr);
});

test("resources become cgroup limits the container sees", async () => {
  const script =
    "cat /sys/fs/cgroup/memory.max 2>/dev/null || cat /sys/fs/cgroup/memory/memory.limit_in_bytes; " +
    "cat /sys/fs/cgroup/pids.max 2>/dev/null || cat /sys/fs/cgroup/pids/pids.max";
  const r = await run({ args: sh(script), resources: { memory: "64m", pids: 42 } });
  assert.equal(r.stdout, `${64 * 1024 * 1024}\n42\n`, r.stderr);
});

test("environment and environmentFiles reach the process; environment wins", async () => {
  const envFile = join(dir, "sync.env");
  writeFileSync(envFile, "# a comment\nTOKEN=from-file\nREGION=eu\n");
  const r = await run({
    args: sh('echo "$TOKEN $REGION $HOSTNAME"'),
    environment: { TOKEN: "inline" },
    environmentFiles: [envFile],
    hostname: "nas",
  });
  assert.equal(r.stdout, "inline eu nas\n", r.stderr);
  const missing = await run({ args: sh("true"), environmentFiles: [join(dir, "absent.env")] });
  assert.equal(missing.code, 2, "a config problem");
  assert.match(missing.stderr, /environmentFiles\[0\]: cannot read .*absent\.env: no such file/);
});

test("tmpfs gives a writable scratch directory in a read-only root", async () => {
  const r = await run({
    args: sh(
      "echo x > /scratch/f && cat /scratch/f && grep ' /scratch ' /proc/mounts | cut -d' ' -f3",
    ),
    tmpfs: ["/scratch:size=1m"],
  });
  assert.equal(r.stdout, "x\ntmpfs\n", r.stderr);
});

test("readonly: false gives a writable root made of copies: the host's files stay untouched", async () => {
  const before = readFileSync("/bin/busybox");
  const r = await run({
    args: sh(
      "echo corrupted > /bin/busybox.new && cat /bin/busybox.new; echo x >> /bin/busybox; echo done",
    ),
    readonly: false,
  });
  assert.match(r.stdout, /corrupted\ndone/);
  assert.ok(readFileSync("/bin/busybox").equals(before), "the host's busybox is unchanged");
  assert.notEqual(
    statSync(join(state, "bundles/t/rootfs/bin/busybox")).ino,
    statSync("/bin/busybox").ino,
  );
});

test("a device is available at its container path, and only with the access given", async () => {
  // /dev/fuse is not among the devices runc always allows, so only the device cgroup rule opens it.
  // dd with count=0 opens the device and transfers nothing.
  const probe = sh(
    "dd if=/dev/myfuse of=/dev/null count=0 2>/dev/null && echo read:ok || echo read:denied; " +
      "dd if=/dev/null of=/dev/myfuse count=0 2>/dev/null && echo write:ok || echo write:denied",
  );
  const readOnly = await run({ args: probe, devices: ["/dev/fuse:/dev/myfuse:r"] });
  assert.equal(readOnly.stdout, "read:ok\nwrite:denied\n", readOnly.stderr);
  const readWrite = await run({ args: probe, devices: ["/dev/fuse:/dev/myfuse:rw"] });
  assert.equal(readWrite.stdout, "read:ok\nwrite:ok\n", readWrite.stderr);
  const absent = await run({ args: sh("test -e /dev/fuse && echo present || echo absent") });
  assert.equal(absent.stdout, "absent\n");
});

test("include adds host files and directories to the rootfs", async () => {
  const extra = join(dir, "www");
  mkdirSync(join(extra, "sub"), { recursive: true });
  writeFileSync(join(extra, "sub/index.html"), "<h1>hi</h1>\n");
  const r = await run({
    args: ["/bin/busybox", "cat", join(extra, "sub/index.html")],
    include: [extra],
  });
  assert.equal(r.stdout, "<h1>hi</h1>\n", r.stderr);
});

test("a YAML config works the same", async () => {
  const cwd = join(dir, "yaml");
  mkdirSync(cwd);
  writeFileSync(
    join(cwd, "railyard.config.yaml"),
    `stateDir: ${state}\ncontainers:\n  y:\n    args: [/bin/busybox, echo, from yaml]\n`,
  );
  const r = await railyard(["run", "y"], { cwd });
  assert.equal(r.stdout, "from yaml\n", r.stderr);
});
