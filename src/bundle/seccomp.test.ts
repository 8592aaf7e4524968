import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { test } from "node:test";
import { convertSeccomp, defaultSeccomp, type OciSeccomp } from "./seccomp.js";
import { DEFAULT_CAPABILITIES } from "../model/capabilities.js";

const allowed = (p: OciSeccomp, conditional = true) =>
  new Set(
    p.syscalls
      .filter((r) => r.action === "SCMP_ACT_ALLOW" && (conditional || !r.args))
      .flatMap((r) => r.names),
  );

test("the default profile denies by default (EPERM) and keeps namespaces, mounts and keys out of reach", () => {
  const p = defaultSeccomp(DEFAULT_CAPABILITIES, "amd64");
  assert.equal(p.defaultAction, "SCMP_ACT_ERRNO");
  assert.equal(p.defaultErrnoRet, 1);
  // Only the native architecture: 32-bit and x32 syscalls are refused outright.
  assert.deepEqual(p.architectures, ["SCMP_ARCH_X86_64"]);
  const ok = allowed(p);
  for (const s of ["read", "write", "execve", "openat", "futex", "arch_prctl", "ptrace"])
    assert.ok(ok.has(s), `${s} is allowed`);
  for (const s of [
    "unshare",
    "setns",
    "mount",
    "umount2",
    "pivot_root",
    "keyctl",
    "add_key",
    "reboot",
    "init_module",
    "kexec_load",
    "bpf",
    "chroot",
    "io_uring_setup",
    "userfaultfd",
    "clone3",
  ])
    // prettier-ignore
    assert.ok(!ok.has(s), `${s} is denied`);
  // clone only without namespace flags; clone3 answers ENOSYS so that libc falls back to it.
  assert.deepEqual(
    p.syscalls.find((r) => r.names.includes("clone")),
    {
      names: ["clone"],
      action: "SCMP_ACT_ALLOW",
      args: [{ index: 0, value: 0x7e020000, valueTwo: 0, op: "SCMP_CMP_MASKED_EQ" }],
    },
  );
  assert.deepEqual(p.syscalls.find((r) => r.names.includes("clone3"))?.errnoRet, 38);
});

test("a capability brings its syscalls: CAP_SYS_ADMIN mounts and clones freely, CAP_SYS_TIME sets the clock", () => {
  const p = defaultSeccomp([...DEFAULT_CAPABILITIES, "CAP_SYS_ADMIN", "CAP_SYS_TIME"], "amd64");
  const ok = allowed(p);
  for (const s of ["mount", "unshare", "setns", "clone", "clone3", "settimeofday"])
    assert.ok(ok.has(s), s);
  assert.ok(!p.syscalls.some((r) => r.action === "SCMP_ACT_ERRNO"), "no ENOSYS rule for clone3");
  assert.ok(!ok.has("reboot"), "CAP_SYS_BOOT was not given");
  assert.deepEqual(defaultSeccomp(DEFAULT_CAPABILITIES, "arm64").architectures, [
    "SCMP_ARCH_AARCH64",
  ]);
});

const PODMAN_PROFILE = "/usr/share/containers/seccomp.json";
test(
  "at least as strict as the default profile of Debian's podman (containers-common) on this host",
  {
    skip: existsSync(PODMAN_PROFILE)
      ? false
      : `${PODMAN_PROFILE} is not installed (podman's package ships it)`,
  },
  () => {
    const podman = convertSeccomp(
      JSON.parse(readFileSync(PODMAN_PROFILE, "utf8")),
      DEFAULT_CAPABILITIES,
      "amd64",
    );
    assert.ok(podman.ok);
    const theirs = allowed(podman.value);
    const ours = allowed(defaultSeccomp(DEFAULT_CAPABILITIES, "amd64"));
    // futex_waitv (Linux 5.16) is newer than Debian 12's profile; docker allows it.
    assert.deepEqual(
      [...ours].filter((s) => !theirs.has(s)),
      ["futex_waitv"],
    );
    // And what podman leaves to capabilities alone, railyard's filter refuses as docker's does.
    for (const s of ["unshare", "setns", "mount", "keyctl", "reboot", "pivot_root"])
      assert.ok(theirs.has(s) && !ours.has(s), s);
  },
);

test("docker-form profiles are converted for the container's capabilities and architecture", () => {
  const docker = {
    defaultAction: "SCMP_ACT_ERRNO",
    archMap: [{ architecture: "SCMP_ARCH_X86_64", subArchitectures: ["SCMP_ARCH_X86"] }],
    syscalls: [
      { names: ["read", "write"], action: "SCMP_ACT_ALLOW" },
      { name: "mount", action: "SCMP_ACT_ALLOW", includes: { caps: ["CAP_SYS_ADMIN"] } },
      { names: ["arch_prctl"], action: "SCMP_ACT_ALLOW", includes: { arches: ["amd64"] } },
      {
        names: ["clone3"],
        action: "SCMP_ACT_ERRNO",
        errnoRet: 38,
        excludes: { caps: ["CAP_SYS_ADMIN"] },
      },
      {
        names: ["socket"],
        action: "SCMP_ACT_ALLOW",
        args: [{ index: 0, value: 40, valueTwo: 0, op: "SCMP_CMP_NE" }],
      },
    ],
  };
  const r = convertSeccomp(docker, DEFAULT_CAPABILITIES, "amd64");
  assert.ok(r.ok);
  assert.deepEqual(r.value, {
    defaultAction: "SCMP_ACT_ERRNO",
    architectures: ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86"],
    syscalls: [
      { names: ["read", "write"], action: "SCMP_ACT_ALLOW" },
      { names: ["arch_prctl"], action: "SCMP_ACT_ALLOW" },
      { names: ["clone3"], action: "SCMP_ACT_ERRNO", errnoRet: 38 },
      {
        names: ["socket"],
        action: "SCMP_ACT_ALLOW",
        args: [{ index: 0, value: 40, op: "SCMP_CMP_NE" }],
      },
    ],
  });
  const admin = convertSeccomp(docker, ["CAP_SYS_ADMIN"], "arm64");
  assert.ok(admin.ok);
  assert.deepEqual(
    admin.value.syscalls.map((s) => s.names[0]),
    ["read", "mount", "socket"],
  );
  assert.deepEqual(convertSeccomp({ syscalls: [] }, [], "amd64"), {
    ok: false,
    error: 'not a seccomp profile: expected an object with "defaultAction"',
  });
});
