import assert from "node:assert/strict";
import { test } from "node:test";
import { cdiNames, cdiRegistry, cdiResolve, parseCdiSpec, type CdiSpec } from "./spec.js";
import { checkCdiName } from "../model/cdi.js";

/** A spec as NVIDIA's `nvidia-ctk cdi generate` writes one, reduced to its shape. */
const gpuDoc = {
  cdiVersion: "0.5.0",
  kind: "nvidia.com/gpu",
  devices: [
    {
      name: "0",
      containerEdits: { deviceNodes: [{ path: "/dev/nvidia0" }] },
    },
    {
      name: "all",
      containerEdits: { deviceNodes: [{ path: "/dev/nvidia0" }, { path: "/dev/nvidia1" }] },
    },
  ],
  containerEdits: {
    env: ["NVIDIA_VISIBLE_DEVICES=void"],
    deviceNodes: [{ path: "/dev/nvidiactl" }],
    mounts: [
      {
        hostPath: "/usr/lib/x86_64-linux-gnu/libcuda.so.1",
        containerPath: "/usr/lib/x86_64-linux-gnu/libcuda.so.1",
        options: ["ro", "nosuid", "nodev", "bind"],
      },
    ],
    hooks: [
      {
        hookName: "createContainer",
        path: "/usr/bin/nvidia-ctk",
        args: ["nvidia-ctk", "hook", "update-ldcache"],
      },
    ],
  },
};

const spec = (doc: unknown, file = "/etc/cdi/x.yaml", priority = 0): CdiSpec => {
  const r = parseCdiSpec(doc, file, priority);
  assert.ok("spec" in r, "problems" in r ? r.problems.join("; ") : "");
  return r.spec;
};

test("a CDI name is vendor/class=name, and each part is checked with its own message", () => {
  assert.equal(checkCdiName("nvidia.com/gpu=all"), undefined);
  assert.equal(checkCdiName("vendor.example/fpga=GPU-4a3b:1"), undefined);
  assert.match(
    checkCdiName("gpu=all") ?? "",
    /is not a CDI device name. expected "vendor.com\/class=name"/,
  );
  assert.match(checkCdiName("-bad.com/gpu=0") ?? "", /the vendor "-bad.com"/);
  assert.match(checkCdiName("nvidia.com/9gpu=0") ?? "", /the class "9gpu"/);
  assert.match(checkCdiName("nvidia.com/gpu=-0") ?? "", /the device name "-0"/);
});

test("a vendor's spec reads: the spec's edits once, then each requested device's, in request order", () => {
  const s = spec(gpuDoc);
  const r = cdiRegistry(["/etc/cdi"], [s], []);
  assert.deepEqual(cdiNames(r), ["nvidia.com/gpu=0", "nvidia.com/gpu=all"]);
  const res = cdiResolve(r, ["nvidia.com/gpu=all", "nvidia.com/gpu=0"]);
  assert.ok("edits" in res);
  // /dev/nvidia0 is named by both devices: applied twice, it appears once (the later one).
  assert.deepEqual(
    res.edits.deviceNodes.map((d) => d.path),
    ["/dev/nvidiactl", "/dev/nvidia1", "/dev/nvidia0"],
  );
  assert.deepEqual(res.edits.env, ["NVIDIA_VISIBLE_DEVICES=void"]);
  assert.equal(res.edits.mounts.length, 1);
  assert.equal(res.edits.hooks[0]?.hookName, "createContainer");
  // A node without hostPath takes it from path; permissions default to rwm.
  assert.deepEqual(res.edits.deviceNodes[0], {
    path: "/dev/nvidiactl",
    hostPath: "/dev/nvidiactl",
    permissions: "rwm",
  });
  assert.equal(res.files.get("nvidia.com/gpu=0"), "/etc/cdi/x.yaml");
});

test("a later directory overrides a device; two specs of one directory make it a conflict", () => {
  const a = spec(gpuDoc, "/etc/cdi/a.yaml", 0);
  const b = spec({ ...gpuDoc, containerEdits: { env: ["FROM=run"] } }, "/var/run/cdi/b.json", 1);
  const over = cdiRegistry(["/etc/cdi", "/var/run/cdi"], [a, b], []);
  const res = cdiResolve(over, ["nvidia.com/gpu=0"]);
  assert.ok("edits" in res);
  assert.deepEqual(res.edits.env, ["FROM=run"]);
  // The same order the other way round: the earlier directory never wins.
  const under = cdiRegistry(["/etc/cdi", "/var/run/cdi"], [b, a], []);
  assert.equal(under.devices.get("nvidia.com/gpu=0")?.file, "/var/run/cdi/b.json");

  const c = spec(gpuDoc, "/etc/cdi/c.yaml", 0);
  const clash = cdiRegistry(["/etc/cdi"], [a, c], []);
  assert.deepEqual(cdiNames(clash), []);
  const bad = cdiResolve(clash, ["nvidia.com/gpu=all", "nvidia.com/gpu=7"]);
  assert.deepEqual("missing" in bad && bad.missing, [
    {
      name: "nvidia.com/gpu=all",
      why: "it is defined by both /etc/cdi/a.yaml and /etc/cdi/c.yaml",
    },
    { name: "nvidia.com/gpu=7", why: "no CDI spec defines it" },
  ]);
});

test("a spec that is not valid is refused with every problem at its key path", () => {
  const r = parseCdiSpec(
    {
      cdiVersion: "0.2.0",
      kind: "nvidia.com",
      devices: [
        {
          name: "0",
          containerEdits: { deviceNodes: [{ path: "dev/x", type: "z", permissions: "rx" }] },
        },
        { name: "1", containerEdits: { hooks: [{ hookName: "onStart", path: "/bin/true" }] } },
        { name: "2", containerEdits: { env: ["NOVALUE"], mounts: [{ hostPath: "/a" }] } },
        { name: "3" },
        { name: "3", containerEdits: { env: ["A=1"] } },
      ],
    },
    "/etc/cdi/bad.yaml",
    0,
  );
  assert.ok("problems" in r);
  assert.deepEqual(r.problems, [
    "cdiVersion: 0.2.0 predates the CDI versions railyard reads (0.3.0 to 1.x)",
    'kind: "nvidia.com" must be "vendor.com/class"',
    'devices[0].containerEdits.deviceNodes[0].path: "dev/x" must be an absolute path without ".."',
    'devices[0].containerEdits.deviceNodes[0].type: "z" is not a device type. expected b, c, u or p',
    'devices[0].containerEdits.deviceNodes[0].permissions: "rx" must be letters of "rwm" or "none"',
    'devices[1].containerEdits.hooks[0].hookName: "onStart" is not an OCI hook. expected one of prestart, createRuntime, createContainer, startContainer, poststart, poststop',
    'devices[2].containerEdits.env[0]: must be "NAME=value"',
    "devices[2].containerEdits.mounts[0].containerPath: must be a string",
    "devices[3].containerEdits: a device must edit something",
    'devices[4].name: "3" is named twice',
  ]);
  assert.deepEqual(parseCdiSpec({ cdiVersion: "0.6.0", kind: "a.com/b" }, "f", 0), {
    problems: ["devices: must be a list of at least one device"],
  });
  assert.deepEqual(parseCdiSpec([], "f", 0), { problems: ["the document must be an object"] });
});

test("edits railyard cannot apply are kept as such, so that a device with them is refused", () => {
  const s = spec({
    cdiVersion: "1.0.0",
    kind: "example.com/nic",
    devices: [
      { name: "a", containerEdits: { netDevices: [{ hostInterfaceName: "eth9", name: "net0" }] } },
    ],
  });
  const res = cdiResolve(cdiRegistry([], [s], []), ["example.com/nic=a"]);
  assert.ok("edits" in res);
  assert.deepEqual(res.edits.unsupported, ["netDevices"]);
});

test("permissions none, an explicit host path and additional groups (0 dropped) are kept", () => {
  const s = spec({
    cdiVersion: "0.7.0",
    kind: "example.com/dev",
    devices: [
      {
        name: "x",
        containerEdits: {
          deviceNodes: [{ path: "/dev/x", hostPath: "/dev/null", permissions: "none", uid: 5 }],
          additionalGids: [0, 44],
        },
      },
    ],
  });
  const res = cdiResolve(cdiRegistry([], [s], []), ["example.com/dev=x"]);
  assert.ok("edits" in res);
  assert.deepEqual(res.edits.deviceNodes, [
    { path: "/dev/x", hostPath: "/dev/null", permissions: "", uid: 5 },
  ]);
  assert.deepEqual(res.edits.additionalGids, [44]);
});
