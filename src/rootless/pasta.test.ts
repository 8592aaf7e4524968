import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { test } from "node:test";
import { resolveConfig } from "../config/resolve/index.js";
import { renderSpec } from "../bundle/spec.js";
import { hostProcess } from "../bundle/process.js";
import { fakeContext, SCOPE } from "../../tests/helpers/context.js";
import { ociValidator } from "../../tests/helpers/oci-schema.js";
import { pastaArgs, pastaHook } from "./pasta.js";

const config = resolveConfig(
  {
    containers: {
      web: {
        args: ["/bin/true"],
        ports: ["8080:80", "0.0.0.0:8443:443", "[::1]:9090:90", "5353:53/udp"],
      },
      quiet: { args: ["/bin/true"], network: "private" },
    },
  },
  fakeContext(),
);

test("pasta forwards exactly the published ports, each on its address, and nothing back", () => {
  const args = pastaArgs(config.containers["web"]!);
  const opts = (flag: string) => args.flatMap((a, i) => (args[i - 1] === flag ? [a] : []));
  assert.deepEqual(opts("-t"), ["127.0.0.1/8080:80", "0.0.0.0/8443:443", "::1/9090:90"]);
  assert.deepEqual(opts("-u"), ["127.0.0.1/5353:53"]);
  // Not the host's ports into the container, nor its loopback through the gateway address.
  assert.deepEqual([opts("-T"), opts("-U")], [["none"], ["none"]]);
  assert.ok(args.includes("--no-map-gw"));
  // Without ports, none (pasta's default would forward every port the container binds).
  const quiet = pastaArgs(config.containers["quiet"]!);
  assert.deepEqual(
    quiet.flatMap((a, i) => (quiet[i - 1] === "-t" || quiet[i - 1] === "-u" ? [a] : [])),
    ["none", "none"],
  );
});

test("the hook reads the container's pid from the state runc gives it on stdin", () => {
  const hook = pastaHook(config.containers["quiet"]!);
  // The same shell program, with pasta replaced by echo.
  const script = (hook.args?.[2] ?? "").replace(/exec \/usr\/bin\/pasta/, "exec echo");
  const state = JSON.stringify({
    ociVersion: "1.0.2",
    id: "x",
    status: "creating",
    pid: 4242,
    bundle: "/b",
  });
  const r = spawnSync("/bin/sh", ["-c", script], { input: state, encoding: "utf8" });
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout.trim(), / 4242$/);
});

test("rootless, a private container's spec makes its own network namespace and runs pasta first", () => {
  const c = config.containers["web"]!;
  const spec = renderSpec(c, {
    rlimits: [{ type: "RLIMIT_NOFILE", hard: 1024, soft: 1024 }],
    devices: {},
    process: hostProcess(c, "/bin/true"),
    rootless: SCOPE,
  });
  assert.deepEqual(
    spec.linux.namespaces.find((n) => n.type === "network"),
    { type: "network" },
    "no path: runc makes it",
  );
  assert.equal(spec.hooks?.createRuntime?.[0]?.path, "/bin/sh");
  // The hook is the runtime spec's own kind: the bundle validates against the OCI schema.
  assert.deepEqual(
    ociValidator("runtime-spec", "config-schema.json")(JSON.parse(JSON.stringify(spec))),
    [],
  );
  // As root, the namespace is the network script's, joined by path, and there is no hook.
  const root = renderSpec(c, {
    rlimits: [{ type: "RLIMIT_NOFILE", hard: 1024, soft: 1024 }],
    devices: {},
    process: hostProcess(c, "/bin/true"),
  });
  assert.equal(root.hooks, undefined);
  assert.deepEqual(
    root.linux.namespaces.find((n) => n.type === "network"),
    {
      type: "network",
      path: "/run/netns/railyard-web",
    },
  );
});
