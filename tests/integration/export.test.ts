/**
 * `railyard export kubernetes`, consumed by a real implementation of the format: Debian's podman
 * runs the exported YAML with `podman kube play`, pulling the locked digest from the registry.
 */
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { railyard, scratchDir } from "../helpers/cli.js";
import { podmanPeer } from "../helpers/podman.js";
import { PROBE_OUTPUT, writeProbe } from "../helpers/probe.js";
import { registryWithBusybox, type TestRegistry } from "../helpers/registry.js";

const { dir, cleanup } = scratchDir("railyard-export-");
let registry: TestRegistry;
let ref = "";

const podman = podmanPeer(dir).run;

before(async () => {
  ({ registry, ref } = await registryWithBusybox(dir));
});

after(async () => {
  podman(["pod", "rm", "-af", "-t", "0"]);
  podman(["system", "reset", "-f"]);
  await registry?.stop();
  cleanup();
});

test("podman kube play runs the exported Kubernetes YAML: locked digest, user, env file, read-only host path, read-only root", async () => {
  const { file, digest } = await writeProbe(dir, registry.host, ref, {
    last: "busybox sleep 3600",
  });

  // podman 4.3 cannot read a Secret from kube YAML ("secret ... is not valid JSON"), so the env
  // file goes into a ConfigMap here; the Secret form is checked against the schema in unit tests.
  const r = await railyard([
    "--config",
    file,
    "export",
    "kubernetes",
    "--host-paths",
    "--env-as",
    "configmap",
  ]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stderr, "", "nothing left out for this container");
  assert.ok(r.stdout.includes(`image: ${ref}@${digest}`), "the locked digest is in the YAML");
  const yaml = join(dir, "hello.yaml");
  writeFileSync(yaml, r.stdout);

  const play = podman(["kube", "play", "--tls-verify=false", yaml]);
  assert.equal(play.status, 0, play.stderr);
  let logs = "";
  for (let i = 0; i < 100 && !logs.includes("data "); i++) {
    await new Promise((res) => setTimeout(res, 200));
    logs = podman(["logs", "hello-pod-0-hello"]).stdout;
  }
  assert.equal(logs, `hello from an env file as 2000:100\n${PROBE_OUTPUT}`);
  const image = podman(["inspect", "hello-pod-0-hello", "--format", "{{.ImageDigest}}"]);
  assert.equal(image.stdout.trim(), digest, "podman runs the locked digest");
  const down = podman(["kube", "down", yaml]);
  assert.equal(down.status, 0, down.stderr);
});

test("export refuses an unknown format and a bad --env-as with usage errors", async () => {
  const file = join(dir, "bad.json");
  writeFileSync(file, JSON.stringify({ containers: {} }));
  const a = await railyard(["--config", file, "export", "helm"]);
  assert.equal(a.code, 2);
  assert.match(a.stderr, /usage: railyard export kubernetes/);
  const b = await railyard(["--config", file, "export", "kubernetes", "--env-as", "vault"]);
  assert.equal(b.code, 2);
  assert.match(b.stderr, /--env-as "vault": expected secret or configmap/);
});

test("ports are exported; the docker and podman backends refuse private networks and healthchecks", async () => {
  const file = join(dir, "ports.json");
  writeFileSync(
    file,
    JSON.stringify({
      stateDir: join(dir, "ports-state"),
      containers: {
        web: { image: ref, ports: ["127.0.0.1:8080:80"], pull: "never" },
      },
    }),
  );
  const r = await railyard(["--config", file, "export", "kubernetes"]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /kind: Service\n[^]*port: 8080\n\s+targetPort: 80/);
  assert.match(
    r.stderr,
    /warning: containers\.web\.ports: the host address of 127\.0\.0\.1:8080:80/,
  );
  // The engine backends refuse what they cannot run yet, rather than leaving it out.
  const engineFile = join(dir, "ports-podman.json");
  writeFileSync(
    engineFile,
    JSON.stringify({
      stateDir: join(dir, "ports-state"),
      containers: { engine: { image: ref, ports: ["8081:80"], pull: "never", backend: "podman" } },
    }),
  );
  const e = await railyard(["--config", engineFile, "switch", "--dry-run"]);
  assert.equal(e.code, 1);
  assert.match(e.stderr, /containers\.engine\.ports: published ports run with backend "oci" only/);
  const checkedFile = join(dir, "checked-podman.json");
  writeFileSync(
    checkedFile,
    JSON.stringify({
      stateDir: join(dir, "ports-state"),
      containers: {
        checked: { image: ref, healthcheck: { test: "true" }, pull: "never", backend: "podman" },
      },
    }),
  );
  const h = await railyard(["--config", checkedFile, "switch", "--dry-run"]);
  assert.equal(h.code, 1);
  assert.match(
    h.stderr,
    /containers\.checked\.healthcheck: healthchecks run with backend "oci" only/,
  );
});
