import assert from "node:assert/strict";
import { test } from "node:test";
import { doctorChecks, type DoctorFacts, type UserFacts } from "./checks.js";

const host: DoctorFacts = {
  runtime: {
    ok: true,
    choice: {
      name: "runc",
      path: "/usr/sbin/runc",
      reason: "auto: crun not installed; using runc",
    },
  },
  cgroupLayout: "unified",
  systemdBooted: true,
  networkTools: { ip: true, nft: true },
  cdi: { dirs: ["/etc/cdi", "/var/run/cdi"], devices: [], problems: [] },
};
const ready: UserFacts = {
  name: "nas",
  uid: 1000,
  subuids: 65536,
  subgids: 65536,
  linger: true,
  newuidmap: true,
  newgidmap: true,
  pasta: true,
  tunOpen: true,
  maxUserNamespaces: 15000,
  delegated: ["cpuset", "cpu", "io", "memory", "pids"],
  journalReader: true,
};
const failed = (f: DoctorFacts) => doctorChecks(f).filter((c) => !c.ok);

test("a prepared host and user pass every check, with nothing to fix", () => {
  const checks = doctorChecks({ ...host, user: ready });
  assert.deepEqual(
    checks.filter((c) => !c.ok),
    [],
  );
  assert.ok(checks.every((c) => c.fix === undefined));
  assert.deepEqual(
    checks.map((c) => c.name),
    [
      "OCI runtime",
      "systemd",
      "cgroups",
      "networks",
      "CDI devices",
      "subordinate uids",
      "subordinate gids",
      "newuidmap/newgidmap",
      "pasta",
      "user namespaces",
      "lingering",
      "journal access",
      "cgroup delegation",
    ],
  );
});

test("each missing prerequisite fails with the command that fixes it", () => {
  const bad = failed({
    runtime: { ok: false, error: "no OCI runtime found. install one: apt-get install runc" },
    cgroupLayout: "hybrid",
    systemdBooted: false,
    networkTools: { ip: true, nft: false },
    cdi: host.cdi,
    user: {
      ...ready,
      subuids: 1000,
      subgids: 0,
      linger: false,
      newgidmap: false,
      pasta: false,
      unprivilegedUsernsClone: false,
      delegated: ["pids"],
      journalReader: false,
    },
  });
  const by = Object.fromEntries(bad.map((c) => [c.name, c]));
  assert.equal(by["OCI runtime"]?.fix, "apt-get install runc");
  assert.equal(by["systemd"]?.severity, "error");
  assert.equal(by["cgroups"]?.severity, "warning");
  assert.equal(by["networks"]?.fix, "apt-get install nftables");
  assert.match(by["networks"]?.detail ?? "", /^nft missing: network "private"/);
  assert.match(
    by["subordinate uids"]?.detail ?? "",
    /has 1000 in \/etc\/subuid; rootless containers need 65536/,
  );
  assert.equal(
    by["subordinate uids"]?.fix,
    "usermod --add-subuids 100000-165535 nas  (pick a range no other user has)",
  );
  assert.equal(by["subordinate gids"]?.fix, "usermod --add-subgids 100000-165535 nas");
  assert.equal(by["newuidmap/newgidmap"]?.fix, "apt-get install uidmap");
  assert.match(by["user namespaces"]?.fix ?? "", /kernel\.unprivileged_userns_clone=1/);
  assert.equal(by["lingering"]?.fix, "loginctl enable-linger nas");
  assert.equal(by["journal access"]?.fix, "usermod -aG systemd-journal nas");
  assert.equal(by["journal access"]?.severity, "warning");
  assert.equal(by["pasta"]?.fix, "apt-get install passt");
  assert.equal(by["pasta"]?.severity, "warning");
  assert.match(by["cgroup delegation"]?.detail ?? "", /may not use cpu, memory/);
  assert.match(by["cgroup delegation"]?.fix ?? "", /Delegate=cpu cpuset io memory pids/);
});

test("CDI devices are listed; a spec that is not valid is a warning naming the file and why", () => {
  const none = doctorChecks(host).find((c) => c.name === "CDI devices");
  assert.equal(none?.ok, true);
  assert.match(none?.detail ?? "", /^none in \/etc\/cdi, \/var\/run\/cdi/);
  const found = doctorChecks({
    ...host,
    cdi: {
      dirs: ["/etc/cdi"],
      devices: ["nvidia.com/gpu=0", "nvidia.com/gpu=all"],
      problems: [{ file: "/etc/cdi/old.yaml", message: "cdiVersion: 0.2.0 predates ..." }],
    },
  }).find((c) => c.name === "CDI devices");
  assert.equal(found?.ok, false);
  assert.equal(found?.severity, "warning");
  assert.match(
    found?.detail ?? "",
    /^2 in \/etc\/cdi: nvidia\.com\/gpu=0, nvidia\.com\/gpu=all; \/etc\/cdi\/old\.yaml left out: cdiVersion/,
  );
  assert.match(found?.fix ?? "", /nvidia-ctk cdi generate/);
});
