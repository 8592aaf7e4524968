import assert from "node:assert/strict";
import { test } from "node:test";
import { resolveConfig, type ResolveContext } from "../config/resolve/index.js";
import type { ResolvedContainer } from "../model/types.js";
import { ociValidator } from "../../tests/helpers/oci-schema.js";
import { withDns } from "./host.js";
import { hostProcess, imageProcess } from "./process.js";
import {
  MASKED_PATHS,
  READONLY_PATHS,
  renderSpec,
  rlimitsFor,
  serializeSpec,
  type SpecInputs,
} from "./spec.js";
import { DEFAULT_CAPABILITIES, IMAGE_CAPABILITIES } from "../model/capabilities.js";
import { fakeContext, SCOPE } from "../../tests/helpers/context.js";

const ctx: ResolveContext = fakeContext();
const container = (c: Record<string, unknown>): ResolvedContainer => {
  const r = resolveConfig({ containers: { c: { args: ["/bin/busybox", "true"], ...c } } }, ctx)
    .containers["c"];
  assert.ok(r);
  return r;
};
const HOST_LIMITS = { nofile: 1048576, memlock: 8388608, core: -1 };
const base = { devices: {} };
const inputsFor = (c: ResolvedContainer): SpecInputs => ({
  ...base,
  rlimits: rlimitsFor(c, HOST_LIMITS).rlimits,
  process: hostProcess(c, c.args[0] ?? ""),
});
const render = (c: ResolvedContainer, extra: Partial<SpecInputs> = {}) =>
  renderSpec(c, { ...inputsFor(c), ...extra });
const validate = ociValidator("runtime-spec", "config-schema.json");

test("the defaults are runc spec's: namespaces, masked and read-only paths, caps, no_new_privs, devices denied", () => {
  const s = render(container({}));
  assert.deepEqual(validate(s), []);
  assert.deepEqual(
    s.linux.namespaces.map((n) => n.type),
    ["pid", "network", "ipc", "uts", "mount"],
  );
  assert.deepEqual(s.linux.maskedPaths, MASKED_PATHS);
  assert.deepEqual(s.linux.readonlyPaths, READONLY_PATHS);
  assert.deepEqual(s.process.capabilities.bounding, [...DEFAULT_CAPABILITIES].sort());
  assert.deepEqual(s.process.capabilities.effective, s.process.capabilities.bounding);
  assert.equal(s.process.noNewPrivileges, true);
  assert.deepEqual(s.linux.resources.devices, [{ allow: false, access: "rwm" }]);
  assert.equal(s.root.readonly, true);
  assert.deepEqual(s.process.user, { uid: 0, gid: 0 });
  assert.deepEqual(s.process.rlimits, [{ type: "RLIMIT_NOFILE", hard: 1024, soft: 1024 }]);
});

test("rlimits never exceed the host's hard limit", () => {
  const c = container({});
  const s = render(c, { rlimits: rlimitsFor(c, { nofile: 512 }).rlimits });
  assert.deepEqual(s.process.rlimits, [{ type: "RLIMIT_NOFILE", hard: 512, soft: 512 }]);
});

test("ulimits set the process's rlimits; one above the host's gets the host's, and says so", () => {
  const c = container({
    ulimits: { nofile: { soft: 65535, hard: 262144 }, memlock: -1, core: "unlimited", nproc: 4096 },
  });
  const { rlimits, notes } = rlimitsFor(c, { nofile: 20000, memlock: 8388608, core: -1 });
  assert.deepEqual(rlimits, [
    { type: "RLIMIT_CORE", hard: Infinity, soft: Infinity },
    { type: "RLIMIT_MEMLOCK", hard: 8388608, soft: 8388608 },
    { type: "RLIMIT_NOFILE", hard: 20000, soft: 20000 },
    { type: "RLIMIT_NPROC", hard: 4096, soft: 4096 },
  ]);
  assert.deepEqual(notes, [
    "containers.c.ulimits.memlock: unlimited is above this host's hard limit; the container gets 8388608",
    "containers.c.ulimits.nofile: 262144 is above this host's hard limit; the container gets 20000",
  ]);
  // Unlimited is the kernel's RLIM_INFINITY, 2^64-1, written exactly; the spec stays valid.
  const text = serializeSpec(render(c, { rlimits }));
  assert.match(
    text,
    /"type": "RLIMIT_CORE",\n\s+"hard": 18446744073709551615,\n\s+"soft": 18446744073709551615/,
  );
  assert.deepEqual(validate(JSON.parse(text)), []);
});

test("shmSize sizes /dev/shm; without it, docker's 64 MiB", () => {
  const shm = (c: ResolvedContainer) =>
    render(c).mounts.find((m) => m.destination === "/dev/shm")?.options;
  assert.ok(shm(container({}))?.includes("size=65536k"));
  const big = shm(container({ shmSize: "512mb" }));
  assert.ok(big?.includes("size=524288k"), String(big));
  assert.equal(big?.filter((o) => o.startsWith("size=")).length, 1);
});

test("config fields map into the spec, and the result validates against the OCI schema", () => {
  const s = render(
    container({
      user: "2000:100",
      network: "host",
      readonly: false,
      workdir: "/data",
      hostname: "nas-sync",
      environment: { B: "2", A: "1" },
      volumes: ["/srv/data:/data", "/srv/conf:/conf:ro"],
      tmpfs: ["/tmp:size=8m"],
      capabilities: { CAP_CHOWN: true, KILL: false },
      devices: ["/dev/fuse"],
      resources: { memory: "64m", cpus: 1.5, pids: 50 },
      labels: { "org.example.role": "sync" },
    }),
    {
      devices: { "/dev/fuse": { type: "c", major: 10, minor: 229, fileMode: 0o666 } },
    },
  );
  assert.deepEqual(validate(s), []);
  assert.deepEqual(s.process.user, { uid: 2000, gid: 100 });
  assert.ok(
    !s.linux.namespaces.some((n) => n.type === "network"),
    "host network shares the host's namespace",
  );
  assert.equal(s.root.readonly, false);
  assert.equal(s.process.cwd, "/data");
  assert.equal(s.hostname, "nas-sync");
  assert.deepEqual(s.process.env, [
    "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    "HOME=/",
    "A=1",
    "B=2",
    "HOSTNAME=nas-sync",
  ]);
  const m = (d: string) => s.mounts.find((x) => x.destination === d);
  assert.deepEqual(m("/data"), {
    destination: "/data",
    type: "bind",
    source: "/srv/data",
    options: ["rbind", "rw"],
  });
  assert.deepEqual(m("/conf")?.options, ["rbind", "ro"]);
  assert.equal(m("/tmp")?.type, "tmpfs");
  assert.deepEqual(s.process.capabilities.bounding, [
    "CAP_AUDIT_WRITE",
    "CAP_CHOWN",
    "CAP_NET_BIND_SERVICE",
  ]);
  assert.deepEqual(s.linux.devices, [
    { path: "/dev/fuse", type: "c", major: 10, minor: 229, fileMode: 0o666, uid: 0, gid: 0 },
  ]);
  assert.deepEqual(s.linux.resources.devices[1], {
    allow: true,
    type: "c",
    major: 10,
    minor: 229,
    access: "rwm",
  });
  assert.deepEqual(s.linux.resources.memory, { limit: 64 * 1024 * 1024 });
  assert.deepEqual(s.linux.resources.cpu, { quota: 150000, period: 100000 });
  assert.deepEqual(s.linux.resources.pids, { limit: 50 });
  assert.equal(s.annotations?.["org.example.role"], "sync");
});

test("rendering is deterministic: the same config gives byte-identical JSON whatever the key order", () => {
  const a = serializeSpec(
    render(container({ environment: { X: "1", Y: "2" }, labels: { b: "1", a: "2" } })),
  );
  const b = serializeSpec(
    render(container({ labels: { a: "2", b: "1" }, environment: { Y: "2", X: "1" } })),
  );
  assert.equal(a, b);
});

test("rootless: a user namespace onto the user and its subordinate ids; /sys bound when on the host's network", () => {
  for (const network of ["host", "none"] as const) {
    const c = container({ user: "2000:100", network });
    const s = render(c, { rootless: SCOPE });
    assert.deepEqual(validate(s), []);
    assert.ok(s.linux.namespaces.some((n) => n.type === "user"));
    assert.deepEqual(s.linux.uidMappings, [
      { containerID: 0, hostID: 1000, size: 1 },
      { containerID: 1, hostID: 100000, size: 65536 },
    ]);
    assert.deepEqual(s.linux.gidMappings?.[1], { containerID: 1, hostID: 200000, size: 65536 });
    const sys = s.mounts.find((m) => m.destination === "/sys");
    // sysfs needs the network namespace's owner: only a container with its own may mount it.
    if (network === "host")
      assert.deepEqual(sys?.options, ["rbind", "nosuid", "noexec", "nodev", "ro"]);
    else assert.equal(sys?.type, "sysfs");
    // The floor does not move: same capabilities, masked paths, no_new_privs.
    assert.deepEqual(s.process.capabilities.bounding, [...DEFAULT_CAPABILITIES].sort());
    assert.deepEqual(s.linux.maskedPaths, MASKED_PATHS);
    assert.equal(s.process.noNewPrivileges, true);
  }
  assert.equal(render(container({})).linux.uidMappings, undefined);
});

test("an image container starts from podman's capability set; a non-root process keeps only what the config adds", () => {
  const img = (c: Record<string, unknown>) => {
    const r = resolveConfig({ containers: { c: { image: "debian:12", ...c } } }, ctx).containers[
      "c"
    ];
    assert.ok(r);
    return r;
  };
  const renderImage = (c: ResolvedContainer) =>
    renderSpec(c, {
      ...base,
      rlimits: rlimitsFor(c, HOST_LIMITS).rlimits,
      process: imageProcess(
        c,
        { config: { Cmd: ["/entrypoint.sh"] }, rootfs: { type: "layers", diff_ids: [] } },
        { passwd: "", group: "" },
      ),
    });
  const c = img({});
  assert.equal(c.readonly, false, "an image's root is writable by default");
  const s = renderImage(c);
  assert.deepEqual(validate(s), []);
  assert.deepEqual(s.process.capabilities.bounding, [...IMAGE_CAPABILITIES].sort());
  assert.deepEqual(s.process.capabilities.permitted, s.process.capabilities.bounding);
  // Ambient capabilities survive into a non-root process; docker gives such a process none.
  assert.deepEqual(s.process.capabilities.ambient, []);
  const added = renderImage(img({ capabilities: { NET_ADMIN: true, CHOWN: false } }));
  assert.ok(added.process.capabilities.bounding.includes("CAP_NET_ADMIN"));
  assert.ok(!added.process.capabilities.bounding.includes("CAP_CHOWN"));
  assert.deepEqual(added.process.capabilities.ambient, ["CAP_NET_ADMIN"]);
  // A host program keeps runc's floor, in every set.
  const host = render(container({}));
  assert.deepEqual(host.process.capabilities.ambient, [...DEFAULT_CAPABILITIES].sort());
  assert.equal(img({ readonly: true }).readonly, true, "hardening is one key away");
});

test("a container with its own network namespace gets docker's sysctls; network host never does", () => {
  const own = render(container({}));
  assert.deepEqual(own.linux.sysctl, {
    "net.ipv4.ip_unprivileged_port_start": "0",
    "net.ipv4.ping_group_range": "0 2147483647",
  });
  assert.equal(render(container({ network: "host" })).linux.sysctl, undefined);
  const mine = render(
    container({
      sysctls: { "net.core.somaxconn": 4096, "net.ipv4.ip_unprivileged_port_start": "80" },
    }),
  );
  assert.deepEqual(validate(mine), []);
  assert.equal(mine.linux.sysctl?.["net.core.somaxconn"], "4096");
  assert.equal(mine.linux.sysctl?.["net.ipv4.ip_unprivileged_port_start"], "80", "the config wins");
  // In a user namespace only mapped groups can be named, so the ping range is left out.
  const rootless = render(container({}), { rootless: SCOPE });
  assert.deepEqual(rootless.linux.sysctl, { "net.ipv4.ip_unprivileged_port_start": "0" });
});

test("CDI devices add their nodes (with cgroup rules), hooks after pasta's, groups and environment", () => {
  const c = container({
    devices: ["/dev/fuse", "example.com/dev=x"],
    environment: { MODE: "mine" },
  });
  assert.deepEqual(c.cdiDevices, ["example.com/dev=x"]);
  const s = render(c, {
    devices: { "/dev/fuse": { type: "c", major: 10, minor: 229, fileMode: 0o666 } },
    cdi: {
      env: ["VENDOR_LIB=/opt/v", "MODE=vendor"],
      devices: [
        {
          path: "/dev/x0",
          type: "c",
          major: 1,
          minor: 3,
          fileMode: 0o660,
          uid: 0,
          gid: 44,
          access: "rw",
        },
        {
          path: "/dev/xpipe",
          type: "p",
          major: 0,
          minor: 0,
          fileMode: 0o600,
          uid: 0,
          gid: 0,
          access: "rwm",
        },
      ],
      mounts: [],
      hooks: [
        {
          hookName: "createContainer",
          path: "/usr/bin/vendor-hook",
          args: ["vendor-hook", "ldcache"],
        },
        { hookName: "poststop", path: "/usr/bin/vendor-hook", timeout: 5 },
      ],
      additionalGids: [44],
    },
  });
  assert.deepEqual(validate(s), []);
  assert.deepEqual(
    s.linux.devices?.map((d) => d.path),
    ["/dev/fuse", "/dev/x0", "/dev/xpipe"],
  );
  // A fifo needs no cgroup rule; the char node gets exactly the spec's access.
  assert.deepEqual(s.linux.resources.devices.slice(2), [
    { allow: true, type: "c", major: 1, minor: 3, access: "rw" },
  ]);
  assert.deepEqual(s.process.user, { uid: 0, gid: 0, additionalGids: [44] });
  // The vendor's variables override the image's; the config's own override the vendor's.
  assert.ok(s.process.env.includes("VENDOR_LIB=/opt/v"));
  assert.ok(s.process.env.includes("MODE=mine"));
  assert.deepEqual(s.hooks, {
    createContainer: [{ path: "/usr/bin/vendor-hook", args: ["vendor-hook", "ldcache"] }],
    poststop: [{ path: "/usr/bin/vendor-hook", timeout: 5 }],
  });
});

test("pid host leaves out the pid namespace, and only it", () => {
  const types = (c: ResolvedContainer) => render(c).linux.namespaces.map((n) => n.type);
  assert.deepEqual(types(container({ pid: "host" })), ["network", "ipc", "uts", "mount"]);
  assert.deepEqual(types(container({})), ["pid", "network", "ipc", "uts", "mount"]);
});

test("dns: the config's servers and search domains replace the host's; options are added", () => {
  const text = withDns("nameserver 192.0.2.1\nsearch lan\noptions rotate\n", {
    servers: ["9.9.9.9"],
    search: ["home.arpa"],
    options: ["ndots:2"],
  });
  assert.equal(text, "options rotate\nnameserver 9.9.9.9\nsearch home.arpa\noptions ndots:2\n");
  // Without servers the host's stay.
  assert.equal(
    withDns("nameserver 192.0.2.1\n", { servers: [], search: [], options: ["edns0"] }),
    "nameserver 192.0.2.1\noptions edns0\n",
  );
});

test("a device directory maps each node below it to the same place below the container's path", () => {
  const c = container({ devices: ["/dev/bus/usb:/dev/usb:rw"] });
  const node = { type: "c" as const, major: 189, fileMode: 0o664 };
  const s = render(c, {
    devices: {
      "/dev/bus/usb/001/001": { ...node, minor: 0 },
      "/dev/bus/usb/001/002": { ...node, minor: 1 },
      "/dev/bus/usbother": { ...node, minor: 9 },
    },
  });
  assert.deepEqual(
    s.linux.devices?.map((d) => [d.path, d.minor]),
    [
      ["/dev/usb/001/001", 0],
      ["/dev/usb/001/002", 1],
    ],
  );
  assert.deepEqual(
    s.linux.resources.devices.filter((d) => d.allow).map((d) => [d.minor, d.access]),
    [
      [0, "rw"],
      [1, "rw"],
    ],
  );
});

test("groupAdd: a host program's groups by id, an image's by name from its /etc/group", () => {
  const withUsers = fakeContext({ lookupGroup: (n) => (n === "users" ? 100 : undefined) });
  const host = resolveConfig(
    { containers: { c: { args: ["/bin/busybox", "true"], groupAdd: [44, "users"] } } },
    withUsers,
  ).containers["c"];
  assert.ok(host);
  assert.deepEqual(render(host).process.user, {
    uid: 0,
    gid: 0,
    additionalGids: [44, 100],
  });
  const c = resolveConfig({ containers: { c: { image: "x", groupAdd: ["render", 44] } } }, ctx)
    .containers["c"];
  assert.ok(c);
  const db = { passwd: "root:x:0:0::/root:/bin/sh\n", group: "root:x:0:\nrender:x:993:\n" };
  const image = { config: { Cmd: ["sh"] }, rootfs: { type: "layers", diff_ids: [] } };
  const p = imageProcess(c, image, db);
  assert.deepEqual(p.additionalGids, [993, 44]);
  assert.throws(
    () => imageProcess({ ...c, groupAdd: ["video"] }, image, db),
    /containers\.c\.groupAdd: the group video does not exist in the image's \/etc\/group/,
  );
});
