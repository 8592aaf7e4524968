/**
 * CDI devices, as a GPU vendor's spec gives them: a spec written by the test for a fake vendor
 * (its device node is the host's /dev/null under a new name, its "driver library" a directory of
 * the test's, its variables and hook the kind NVIDIA's spec has) reaches a real runc container,
 * which sees each edit.
 */
import assert from "node:assert/strict";
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, test } from "node:test";
import { railyard, scratchDir } from "../helpers/cli.js";
import { ociValidator } from "../helpers/oci-schema.js";

const { dir, cleanup } = scratchDir();
after(cleanup);
const state = join(dir, "state");
const etc = join(dir, "etc-cdi");
const run = join(dir, "run-cdi");
const lib = join(dir, "vendor-lib");
const hookLog = join(dir, "hook.log");
mkdirSync(etc);
mkdirSync(run);
mkdirSync(lib);
writeFileSync(join(lib, "libvendor.so.1"), "vendor library 1.0\n");
const hook = join(dir, "vendor-hook");
// A createRuntime hook gets the container's state on stdin, as runc runs NVIDIA's.
writeFileSync(
  hook,
  `#!/bin/sh\necho "$1 $(grep -o '"status": *"[a-z]*"' | tr -d ' "')" >> ${hookLog}\n`,
);
chmodSync(hook, 0o755);

const vendorSpec = (version: string) => ({
  cdiVersion: "0.6.0",
  kind: "example.com/accel",
  containerEdits: {
    env: [`ACCEL_DRIVER_VERSION=${version}`, "ACCEL_MODE=vendor"],
    mounts: [
      {
        hostPath: lib,
        containerPath: "/usr/lib/accel",
        options: ["ro", "nosuid", "nodev", "bind"],
      },
    ],
    hooks: [{ hookName: "createRuntime", path: hook, args: ["vendor-hook", "ready"] }],
  },
  devices: [
    {
      name: "0",
      containerEdits: {
        deviceNodes: [{ path: "/dev/accel0", hostPath: "/dev/null", permissions: "rw" }],
      },
    },
  ],
});
writeFileSync(join(etc, "accel.json"), JSON.stringify(vendorSpec("1.0")));

const config = join(dir, "railyard.config.json");
function write(container: Record<string, unknown>): string[] {
  writeFileSync(
    config,
    JSON.stringify({ stateDir: state, cdiSpecDirs: [etc, run], containers: { t: container } }),
  );
  return ["--config", config];
}
const sh = (script: string) => ["/bin/busybox", "sh", "-c", script];

test("a CDI device's node, mount, variables and hook reach the container, and config.json is valid OCI", async () => {
  const probe = sh(
    "stat -c '%F %t:%T' /dev/accel0; echo data > /dev/accel0 && echo write:ok; " +
      "cat /usr/lib/accel/libvendor.so.1; touch /usr/lib/accel/x 2>/dev/null || echo lib:ro; " +
      'echo "$ACCEL_DRIVER_VERSION $ACCEL_MODE"',
  );
  const r = await railyard([
    ...write({
      args: probe,
      devices: ["example.com/accel=0"],
      environment: { ACCEL_MODE: "mine" },
    }),
    "run",
    "t",
  ]);
  assert.equal(r.code, 0, r.stderr);
  // /dev/null is char 1:3; the container sees it as /dev/accel0 and may write it (access "rw").
  assert.equal(
    r.stdout,
    "character special file 1:3\nwrite:ok\nvendor library 1.0\nlib:ro\n1.0 mine\n",
    r.stderr,
  );
  assert.equal(readFileSync(hookLog, "utf8"), "ready status:creating\n");
  const spec = JSON.parse(readFileSync(join(state, "bundles/t/config.json"), "utf8")) as {
    linux: { devices: { path: string }[] };
    hooks: Record<string, unknown>;
  };
  assert.deepEqual(ociValidator("runtime-spec", "config-schema.json")(spec), []);
  assert.deepEqual(
    spec.linux.devices.map((d) => d.path),
    ["/dev/accel0"],
  );
  assert.deepEqual(Object.keys(spec.hooks), ["createRuntime"]);
});

test("a spec in the later directory overrides the earlier one's; a changed spec changes the bundle", async () => {
  const args = write({
    args: sh('echo "$ACCEL_DRIVER_VERSION"'),
    devices: ["example.com/accel=0"],
  });
  const before = await railyard([...args, "run", "t"]);
  assert.equal(before.stdout, "1.0\n", before.stderr);
  // A driver update writes its spec to /var/run/cdi, as NVIDIA's generator can.
  writeFileSync(join(run, "accel.yaml"), JSON.stringify(vendorSpec("2.0")));
  const after = await railyard([...args, "run", "t"]);
  assert.equal(after.stdout, "2.0\n", after.stderr);
  const built = await railyard([...args, "--json", "build"]);
  assert.equal(built.code, 0, built.stderr);
  writeFileSync(join(run, "accel.yaml"), JSON.stringify(vendorSpec("2.1")));
  const rebuilt = await railyard([...args, "--json", "build"]);
  type Built = { generation: number; bundles: { bundle: string; changed: boolean }[] };
  const [one, two] = [built, rebuilt].map((x) => JSON.parse(x.stdout) as Built);
  // A new bundle and generation, as a switch would restart the container for.
  assert.notEqual(two?.bundles[0]?.bundle, one?.bundles[0]?.bundle);
  assert.equal(two?.bundles[0]?.changed, true);
  assert.equal(two?.generation, (one?.generation ?? 0) + 1);
  const same = JSON.parse((await railyard([...args, "--json", "build"])).stdout) as Built;
  assert.equal(same.bundles[0]?.changed, false, "an unchanged spec rebuilds nothing");
});

test("an unknown device is refused with the devices this host has; doctor lists them", async () => {
  const r = await railyard([
    ...write({ args: sh("true"), devices: ["example.com/accel=1"] }),
    "run",
    "t",
  ]);
  assert.notEqual(r.code, 0);
  const refused =
    /containers\.t\.devices: example\.com\/accel=1: no CDI spec defines it\. CDI devices on this host \(from .*etc-cdi, .*run-cdi\): example\.com\/accel=0/;
  assert.match(r.stderr, refused);
  // check reads the same specs: a config error (exit 2) naming the file, before any build.
  const check = await railyard(["--config", config, "check"]);
  assert.equal(check.code, 2, check.stderr);
  assert.match(check.stderr, refused);
  assert.ok(check.stderr.startsWith(`railyard: ${config}: containers.t.devices: `), check.stderr);
  const known = await railyard([
    ...write({ args: sh("true"), devices: ["example.com/accel=0"] }),
    "check",
  ]);
  assert.equal(known.code, 0, known.stderr);
  writeFileSync(join(etc, "broken.yaml"), "cdiVersion: 0.6.0\nkind: example.com/x\ndevices: []\n");
  const doctor = await railyard(["--config", config, "--json", "doctor"]);
  const checks = JSON.parse(doctor.stdout) as { name: string; detail: string; ok: boolean }[];
  const cdi = checks.find((c) => c.name === "CDI devices");
  assert.match(cdi?.detail ?? "", /1 in .*etc-cdi, .*run-cdi: example\.com\/accel=0/);
  assert.match(
    cdi?.detail ?? "",
    /broken\.yaml left out: devices: must be a list of at least one device/,
  );
});

test("a device whose host node or mounted file is missing fails the build, naming it", async () => {
  const spec = vendorSpec("1.0");
  spec.devices[0]!.containerEdits.deviceNodes[0]!.hostPath = "/dev/accel-not-loaded";
  writeFileSync(join(run, "accel.yaml"), JSON.stringify(spec));
  const r = await railyard([
    ...write({ args: sh("true"), devices: ["example.com/accel=0"] }),
    "run",
    "t",
  ]);
  assert.notEqual(r.code, 0);
  assert.match(
    r.stderr,
    /containers\.t\.devices: CDI example\.com\/accel=0 \(.*accel\.yaml\): \/dev\/accel-not-loaded is not a device node on this host \(is the driver loaded\?\)/,
  );
});
