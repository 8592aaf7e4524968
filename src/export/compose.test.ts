import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { parse } from "yaml";
import { resolveConfig } from "../config/resolve/index.js";
import { fromCompose } from "../import/compose/index.js";
import { assertValidCompose } from "../../tests/helpers/compose-schema.js";
import { fakeContext } from "../../tests/helpers/context.js";
import { REPO_ROOT } from "../../tests/helpers/paths.js";
import { snapshot } from "../../tests/helpers/snapshot.js";
import { toCompose, type ComposeFile } from "./compose.js";
import { toYamlStream } from "./inputs.js";

const config = resolveConfig(
  {
    networks: { backend: { subnet: "10.20.0.0/24" } },
    containers: {
      db: { image: "postgres:16", network: "backend" },
      onedrive: {
        image: "docker.io/driveone/onedrive:edge",
        user: "2000:100",
        volumes: ["/srv/onedrive/conf:/onedrive/conf", "/srv/onedrive/data:/onedrive/data:ro"],
        environment: { COST: "$5", A: "1" },
        environmentFiles: ["/etc/onedrive.env"],
        resources: { memory: 512 * 2 ** 20, cpus: 0.5, pids: 100 },
        capabilities: { NET_ADMIN: true, KILL: false },
        dependsOn: ["web", "tool"],
        network: "host",
        stopTimeout: 90,
        restart: "on-abnormal",
        healthcheck: { test: "test -f /onedrive/conf/refresh_token", interval: 90 },
      },
      web: {
        image: "nginx:1.25",
        cmd: ["nginx", "-g", "daemon off;"],
        ports: ["8080", "127.0.0.1:8081:80", "53/udp"],
        tmpfs: ["/tmp:size=64m"],
        autoStart: false,
      },
      quiet: { image: "busybox", readonly: false, network: "none" },
      tool: { args: ["/bin/sh"] },
    },
  },
  fakeContext(),
);
const images = { onedrive: `docker.io/driveone/onedrive:edge@sha256:${"a".repeat(64)}` };

test("the exported compose file validates against the compose-spec schema", () => {
  const r = toCompose(config, images);
  assertValidCompose(r.output);
  // The YAML as written, read back by a YAML 1.1 reader's rules, is the same document.
  assertValidCompose(parse(toYamlStream([r.output]), { version: "1.1" }));
  assert.deepEqual(parse(toYamlStream([r.output]), { version: "1.1" }), r.output);
});

test("compose services mean what railyard's containers mean", () => {
  const { services } = toCompose(config, images).output;
  const od = services["onedrive"] as Record<string, unknown>;
  assert.equal(od["image"], images.onedrive, "the locked digest");
  assert.equal(od["user"], "2000:100");
  assert.equal(od["read_only"], false, "an image's writable root is written out");
  assert.equal(services["tool"], undefined, "a host program is not a service");
  assert.deepEqual(od["cap_drop"], ["ALL"]);
  // podman's set, less KILL, plus NET_ADMIN: exactly, not docker's larger default.
  assert.deepEqual(od["cap_add"], [
    "CHOWN", "DAC_OVERRIDE", "FOWNER", "FSETID", "NET_ADMIN", "NET_BIND_SERVICE", "SETFCAP",
    "SETGID", "SETPCAP", "SETUID", "SYS_CHROOT",
  ]); // prettier-ignore
  assert.deepEqual(od["security_opt"], ["no-new-privileges:true"]);
  assert.equal(od["network_mode"], "host");
  assert.deepEqual(od["environment"], { A: "1", COST: "$$5" }, "a literal $ is escaped");
  assert.deepEqual(od["env_file"], ["/etc/onedrive.env"]);
  assert.equal(od["mem_limit"], "512m");
  assert.equal(od["pids_limit"], 100);
  assert.equal(od["stop_grace_period"], "1m30s");
  assert.equal(od["restart"], "on-failure");
  assert.deepEqual(od["depends_on"], ["web"], "the host program is not a service");
  assert.deepEqual(od["healthcheck"], {
    test: "test -f /onedrive/conf/refresh_token",
    interval: "1m30s",
    timeout: "30s",
    retries: 3,
    start_period: "0s",
  });
  const web = services["web"] as Record<string, unknown>;
  // "8080" means port 8080 on 127.0.0.1 here; compose would take every address and a random port.
  assert.deepEqual(web["ports"], [
    "127.0.0.1:8080:8080",
    "127.0.0.1:8081:80",
    "127.0.0.1:53:53/udp",
  ]);
  assert.deepEqual(web["tmpfs"], ["/tmp:size=64m"]);
  assert.equal(web["network_mode"], undefined);
  assert.deepEqual(web["networks"], ["private-web"], "network private: a network of its own");
  assert.deepEqual((services["db"] as Record<string, unknown>)["networks"], ["backend"]);
  assert.deepEqual(toCompose(config, images).output.networks, {
    backend: { ipam: { config: [{ subnet: "10.20.0.0/24" }] } },
    "private-web": {},
  });
  assert.equal((services["quiet"] as Record<string, unknown>)["network_mode"], "none");
  assert.equal(services["tool"], undefined);
});

test("every key compose cannot carry is named in a warning", () => {
  const w = toCompose(config, images).warnings.join("\n");
  for (const needle of [
    /containers\.tool: a host program \(args\) has no image/,
    /containers\.onedrive\.restart: "on-abnormal" becomes "on-failure"/,
    /containers\.onedrive\.dependsOn: tool is a host program/,
    /containers\.web\.autoStart: false is not exported/,
  ])
    assert.match(w, needle);
});

test("compose -> railyard -> compose gives back every supported key", () => {
  const file = join(REPO_ROOT, "src/import/__fixtures__/roundtrip.compose.yaml");
  const original = parse(readFileSync(file, "utf8")) as ComposeFile;
  assertValidCompose(original);
  const imported = fromCompose(original, {
    file,
    dir: "/srv",
    env: {},
    volumesDir: "/var/lib/railyard/volumes",
    home: "/root",
  });
  const resolved = resolveConfig(imported.config, fakeContext());
  const images = Object.fromEntries(
    Object.entries(resolved.containers).map(([n, c]) => [n, c.image?.ref ?? ""]),
  );
  const back = toCompose(resolved, images).output;
  assert.deepEqual(back, original);
  // Every key in it carries over exactly, so nothing is warned about.
  assert.deepEqual(imported.warnings, []);
});

test("the compose output is deterministic and matches its snapshot", () => {
  const a = toYamlStream([toCompose(config, images).output]);
  assert.equal(a, toYamlStream([toCompose(config, images).output]));
  snapshot(join(REPO_ROOT, "src/export/__snapshots__"), "compose.yaml", a);
});

test("secrets: the long syntax with railyard's defaults written out; a file source as is, an encrypted one named", () => {
  const c = resolveConfig(
    {
      secrets: { pw: { file: "/etc/railyard/pw" }, token: { encrypted: "/etc/railyard/t.cred" } },
      containers: {
        db: { image: "postgres:16", secrets: ["pw", { source: "token", uid: 999, mode: "0400" }] },
      },
    },
    fakeContext(),
  );
  const r = toCompose(c, { db: `docker.io/library/postgres@sha256:${"a".repeat(64)}` });
  assertValidCompose(r.output);
  assert.deepEqual(r.output.secrets, { pw: { file: "/etc/railyard/pw" } });
  assert.deepEqual(r.output.services["db"]?.["secrets"], [
    { source: "pw", target: "/run/secrets/pw", uid: "0", gid: "0", mode: 0o444 },
    { source: "token", target: "/run/secrets/token", uid: "999", gid: "0", mode: 0o400 },
  ]);
  assert.match(r.warnings.join("\n"), /secrets\.token\.encrypted: compose reads plain files/);
});
