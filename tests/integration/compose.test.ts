/**
 * `railyard export compose`, `export quadlet` and `import compose` through the CLI:
 * podman-compose (Debian's, with Debian's podman) runs the exported compose file as a real
 * consumer of the format; podman runs the Quadlet file's keys as `podman run` arguments (Debian's
 * podman 4.3 has no Quadlet generator); compose -> railyard.config.ts -> compose gives the same
 * file back.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { basename, join } from "node:path";
import { after, before, test } from "node:test";
import { parse } from "yaml";
import { assertValidCompose } from "../helpers/compose-schema.js";
import { railyard, scratchDir } from "../helpers/cli.js";
import { REPO_ROOT } from "../helpers/paths.js";
import { podmanPeer } from "../helpers/podman.js";
import { PROBE_OUTPUT, writeProbe } from "../helpers/probe.js";
import { quadletNetwork, quadletRunArgs } from "../helpers/quadlet.js";
import { registryWithBusybox, type TestRegistry } from "../helpers/registry.js";
import { IMAGE_CAPABILITIES } from "../../src/model/capabilities.js";

const { dir, cleanup } = scratchDir("railyard-compose-");
const peer = podmanPeer(dir);
let registry: TestRegistry;
let ref = "";
const PROJECT = "rytest";
const IMAGE_CAPS = IMAGE_CAPABILITIES.join(" ");

const compose = (args: readonly string[]) =>
  spawnSync(
    "podman-compose",
    ["--podman-args", peer.globalArgs.join(" "), "-p", PROJECT, ...args],
    { cwd: dir, env: peer.env, encoding: "utf8", timeout: 180_000 },
  );

before(async () => {
  ({ registry, ref } = await registryWithBusybox(dir));
});

after(async () => {
  compose(["-f", join(dir, "compose.yaml"), "down"]);
  peer.run(["system", "reset", "-f"]);
  await registry?.stop();
  cleanup();
});

test("podman-compose runs the exported compose file: locked digest, user, env file, $ kept, read-only root and volume, published port", async () => {
  const { file, digest } = await writeProbe(dir, registry.host, ref, {
    last: "busybox httpd -f -p 8080 -h /data",
    greeting: "$GREETING as $(busybox id -u):$(busybox id -g) for $PRICE",
    extra: {
      environment: { PATH: "/bin", PRICE: "$5" },
      // With ports the container is on network "private": exported as a network of its own.
      ports: ["127.0.0.1:18080:8080"],
    },
  });

  const out = join(dir, "compose.yaml");
  const r = await railyard(["--config", file, "export", "compose", "--out", out]);
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(
    r.stderr.split("\n").filter((l) => l.includes("warning")),
    [],
  );
  const doc = parse(readFileSync(out, "utf8"), { version: "1.1" }) as {
    services: Record<string, Record<string, unknown>>;
  };
  assertValidCompose(doc);
  assert.equal(doc.services["hello"]?.["image"], `${ref}@${digest}`);

  // The registry is plain HTTP; podman-compose would pull without --tls-verify=false.
  peer.ok(["pull", "--tls-verify=false", `${ref}@${digest}`]);
  const up = compose(["-f", out, "up", "-d"]);
  assert.equal(up.status, 0, `${up.stdout}\n${up.stderr}`);
  let logs = "";
  for (let i = 0; i < 100 && !logs.includes("data "); i++) {
    await new Promise((res) => setTimeout(res, 200));
    logs = peer.run(["logs", `${PROJECT}_hello_1`]).stdout;
  }
  assert.equal(logs, `hello from an env file as 2000:100 for $5\n${PROBE_OUTPUT}`);
  const served = await fetch("http://127.0.0.1:18080/x");
  assert.equal(
    await served.text(),
    "a file on the host\n",
    "the published port reaches the container",
  );
  const image = peer.run(["inspect", `${PROJECT}_hello_1`, "--format", "{{.ImageDigest}}"]);
  assert.equal(image.stdout.trim(), digest, "podman runs the locked digest");
  const caps = peer.run(["inspect", `${PROJECT}_hello_1`, "--format", "{{.EffectiveCaps}}"]);
  // Exactly an image container's set (podman's), not the engine's larger default.
  assert.equal(caps.stdout.trim(), `[${IMAGE_CAPS}]`);
  const down = compose(["-f", out, "down"]);
  assert.equal(down.status, 0, down.stderr);

  // And back: the exported file imports into a config that exports the same file.
  const ts = join(dir, "back", "railyard.config.ts");
  mkdirSync(join(dir, "back"));
  const imp = await railyard(["import", "compose", out]);
  assert.equal(imp.code, 0, imp.stderr);
  writeFileSync(ts, imp.stdout);
  const again = await railyard(["--config", ts, "export", "compose"]);
  assert.equal(again.code, 0, again.stderr);
  const back = parse(again.stdout, { version: "1.1" }) as Record<string, unknown>;
  // Compose names a project after its directory; the import makes that name explicit.
  assert.equal(back["name"], basename(dir).toLowerCase());
  delete back["name"];
  assert.deepEqual(back, doc);
});

test("import compose -> railyard.config.ts -> export compose gives the round-trip fixture back", async () => {
  const fixture = join(REPO_ROOT, "src/import/__fixtures__/roundtrip.compose.yaml");
  const imp = await railyard(["import", "compose", fixture]);
  assert.equal(imp.code, 0, imp.stderr);
  assert.match(
    imp.stdout,
    /^\/\/ Imported from .*roundtrip\.compose\.yaml by railyard import compose\./,
  );
  const ts = join(dir, "fixture", "railyard.config.ts");
  mkdirSync(join(dir, "fixture"));
  writeFileSync(ts, imp.stdout);
  const back = await railyard(["--config", ts, "export", "compose"]);
  assert.equal(back.code, 0, back.stderr);
  assert.deepEqual(
    parse(back.stdout, { version: "1.1" }),
    parse(readFileSync(fixture, "utf8"), { version: "1.1" }),
  );

  const json = await railyard(["import", "compose", fixture, "--format", "json"]);
  assert.equal(json.code, 0, json.stderr);
  const cfg = JSON.parse(json.stdout) as { containers: Record<string, { user?: string }> };
  assert.equal(cfg.containers["onedrive"]?.user, "2000:100");
  const machine = await railyard(["--json", "import", "compose", fixture]);
  assert.equal(machine.code, 0, machine.stderr);
  const m = JSON.parse(machine.stdout) as { config: unknown; warnings: string[] };
  assert.deepEqual(m.config, cfg);
  assert.deepEqual(m.warnings, [], "every key of the fixture carries over");
});

test("import refuses a bad compose file with the file, the key path and what is expected, and prints no config", async () => {
  const bad = join(dir, "bad.yaml");
  writeFileSync(
    bad,
    "services:\n  web:\n    image: nginx\n    ports: ['99999:80']\n    restart: sometimes\n",
  );
  const r = await railyard(["import", "compose", bad]);
  assert.equal(r.code, 2);
  assert.equal(r.stdout, "");
  assert.match(
    r.stderr,
    new RegExp(`${bad}: services\\.web\\.ports\\[0\\]: "99999:80": ports are 1 to 65535`),
  );
  assert.match(r.stderr, /services\.web\.restart: "sometimes" is not a restart policy/);
  const missing = await railyard(["import", "compose", join(dir, "nope.yaml")]);
  assert.equal(missing.code, 2);
  assert.match(missing.stderr, /nope\.yaml: no such file/);
  // A file of megabytes is no compose file: refused at once, before the parser's time grows.
  const huge = join(dir, "huge.yaml");
  writeFileSync(huge, `services:\n${"  x: {image: y}\n".repeat(300_000)}`);
  const t0 = Date.now();
  const big = await railyard(["import", "compose", huge]);
  assert.equal(big.code, 2);
  assert.match(
    big.stderr,
    /huge\.yaml: is 4\.\d MiB, over the limit of 1 MiB: expected a compose file/,
  );
  assert.ok(Date.now() - t0 < 5000);
  // Nor is a FIFO, which would hang the read.
  const fifo = join(dir, "compose.fifo");
  spawnSync("mkfifo", [fifo]);
  const pipe = await railyard(["import", "compose", fifo]);
  assert.equal(pipe.code, 2);
  assert.match(pipe.stderr, /compose\.fifo: is a FIFO, not a regular file/);
  const usage = await railyard(["import", "kube", bad]);
  assert.equal(usage.code, 2);
  assert.match(usage.stderr, /usage: railyard import compose \[DIR \| FILE\.\.\.\]/);
  const flag = await railyard([
    "--config",
    join(dir, "railyard.config.json"),
    "export",
    "compose",
    "--stateful",
  ]);
  assert.equal(flag.code, 2);
  assert.match(flag.stderr, /--stateful is for railyard export kubernetes/);
});

test("the exported Quadlet file, as podman run arguments, runs the probe as railyard would", async () => {
  const out = join(dir, "quadlet");
  const r = await railyard([
    "--config",
    join(dir, "railyard.config.json"),
    "export",
    "quadlet",
    "--out",
    out,
  ]);
  assert.equal(r.code, 0, r.stderr);
  const text = readFileSync(join(out, "hello.container"), "utf8");
  const digest = /^Image=.*@(sha256:[a-f0-9]{64})$/m.exec(text)?.[1];
  assert.ok(digest, text);
  assert.match(text, /^User=2000\nGroup=100$/m);

  const netFile = "private-hello.network";
  const net = quadletNetwork(netFile, readFileSync(join(out, netFile), "utf8"));
  peer.ok(net.createArgs);
  const run = peer.run([
    "run",
    "-d",
    "--name",
    "quadlet-hello",
    ...quadletRunArgs(text, { [netFile]: net.name }),
  ]);
  assert.equal(run.status, 0, run.stderr);
  try {
    let logs = "";
    for (let i = 0; i < 100 && !logs.includes("data "); i++) {
      await new Promise((res) => setTimeout(res, 200));
      logs = peer.run(["logs", "quadlet-hello"]).stdout;
    }
    assert.equal(logs, `hello from an env file as 2000:100 for $5\n${PROBE_OUTPUT}`);
    const served = await fetch("http://127.0.0.1:18080/x");
    assert.equal(await served.text(), "a file on the host\n");
    const inspect = peer.run([
      "inspect",
      "quadlet-hello",
      "--format",
      "{{.ImageDigest}} {{.EffectiveCaps}} {{.HostConfig.SecurityOpt}}",
    ]);
    assert.equal(inspect.stdout.trim(), `${digest} [${IMAGE_CAPS}] [no-new-privileges]`);
  } finally {
    peer.run(["rm", "-f", "-t", "0", "quadlet-hello"]);
    peer.run(["network", "rm", net.name]);
  }
});

test("a Quadlet Secret=, with the podman secret create command export prints, reaches the container as under railyard", async () => {
  const home = join(dir, "quadlet-secret");
  mkdirSync(home, { recursive: true });
  writeFileSync(join(home, "db-password"), "quadlet-pw-Tr48", { mode: 0o600 });
  writeFileSync(join(home, "token"), "quadlet-token-Vb17", { mode: 0o600 });
  const file = join(home, "railyard.config.json");
  writeFileSync(
    file,
    JSON.stringify({
      stateDir: join(home, "state"),
      registries: { [registry.host]: { insecure: true } },
      secrets: {
        "db-password": { file: join(home, "db-password") },
        token: { file: join(home, "token") },
      },
      containers: {
        db: {
          image: ref,
          entrypoint: ["/bin/busybox", "sh", "-c"],
          cmd: [
            "busybox stat -c '%u %g %a' /run/secrets/db-password /etc/app/token; busybox cat /run/secrets/db-password /etc/app/token",
          ],
          environment: { PATH: "/bin" },
          network: "none", // it only reads its secrets
          secrets: [
            "db-password",
            { source: "token", target: "/etc/app/token", uid: 33, gid: 33, mode: "0400" },
          ],
        },
      },
    }),
  );
  assert.equal((await railyard(["--config", file, "lock"])).code, 0);
  const out = join(home, "quadlet");
  const r = await railyard(["--config", file, "export", "quadlet", "--out", out]);
  assert.equal(r.code, 0, r.stderr);
  // The commands the warnings name, run as the user would (with this test's podman store).
  const creates = [...r.stderr.matchAll(/podman secret create (\S+) (\S+)/g)];
  assert.equal(creates.length, 2, r.stderr);
  for (const [, name, path] of creates) peer.ok(["secret", "create", name ?? "", path ?? ""]);
  try {
    const text = readFileSync(join(out, "db.container"), "utf8");
    // The test registry speaks plain HTTP, which a podman pull must be told.
    peer.ok(["pull", "--tls-verify=false", /^Image=(.*)$/m.exec(text)?.[1] ?? ""]);
    const run = peer.run(["run", "--rm", ...quadletRunArgs(text)]);
    assert.equal(run.status, 0, run.stderr);
    assert.equal(run.stdout, "0 0 444\n33 33 400\nquadlet-pw-Tr48quadlet-token-Vb17");
  } finally {
    peer.run(["secret", "rm", "db-password", "token"]);
  }
});
