import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { resolveConfig } from "../config/resolve/index.js";
import { fakeContext } from "../../tests/helpers/context.js";
import { REPO_ROOT } from "../../tests/helpers/paths.js";
import { snapshot } from "../../tests/helpers/snapshot.js";
import { quadletWord, toQuadlet } from "./quadlet.js";

const config = resolveConfig(
  {
    containers: {
      onedrive: {
        image: "docker.io/driveone/onedrive:edge",
        user: "2000:100",
        volumes: ["/srv/onedrive/conf:/onedrive/conf", "/srv/onedrive/data:/onedrive/data:ro"],
        environment: { GREETING: "hello world", PCT: "100%" },
        environmentFiles: ["/etc/onedrive.env"],
        resources: { memory: "512m", cpus: 0.5, pids: 100 },
        capabilities: { NET_ADMIN: true, KILL: false },
        dependsOn: ["web", "tool"],
        network: "host",
        stopTimeout: 30,
        restart: "on-failure",
        healthcheck: { test: ["/bin/check", "--quick"], interval: "1m", startPeriod: 20 },
        labels: { "org.example/owner": "nas" },
      },
      web: {
        image: "nginx:1.25",
        cmd: ["nginx", "-g", "daemon off;"],
        entrypoint: ["/docker-entrypoint.sh", "--"],
        ports: ["127.0.0.1:8080:80"],
        tmpfs: ["/tmp:size=64m"],
        autoStart: false,
        user: "nginx",
      },
      tool: { args: ["/bin/sh"] },
    },
  },
  fakeContext(),
);
const images = { onedrive: `docker.io/driveone/onedrive:edge@sha256:${"a".repeat(64)}` };
const keys = new Set(
  (
    JSON.parse(
      readFileSync(join(REPO_ROOT, "src/export/__fixtures__/quadlet-container-keys.json"), "utf8"),
    ) as { keys: string[] }
  ).keys,
);

/** A unit file as sections of key/value lines (systemd's syntax: no continuation lines here). */
function sections(text: string): Record<string, [string, string][]> {
  const out: Record<string, [string, string][]> = {};
  let current = "";
  for (const line of text.split("\n")) {
    if (line === "" || line.startsWith("#")) continue;
    const s = /^\[(\w+)\]$/.exec(line);
    if (s) out[(current = s[1] as string)] = [];
    else {
      const eq = line.indexOf("=");
      assert.ok(eq > 0 && current !== "", `not a key=value line in a section: ${line}`);
      out[current]?.push([line.slice(0, eq), line.slice(eq + 1)]);
    }
  }
  return out;
}

test("every [Container] key is one Podman 5's Quadlet accepts", () => {
  for (const f of toQuadlet(config, images).output) {
    const s = sections(f.text);
    if (f.name.endsWith(".network")) {
      // podman-systemd.unit(5), [Network]: the podman network's name and its subnet.
      assert.deepEqual(Object.keys(s), ["Network"]);
      for (const [k] of s["Network"] ?? []) assert.ok(["NetworkName", "Subnet"].includes(k), k);
      continue;
    }
    assert.deepEqual(
      Object.keys(s).sort(),
      f.name === "web.container"
        ? ["Container", "Service", "Unit"]
        : ["Container", "Install", "Service", "Unit"],
    );
    for (const [k] of s["Container"] ?? [])
      assert.ok(keys.has(k), `${f.name}: ${k} is not a Quadlet key`);
  }
});

test("a .container file says what railyard's own unit does", () => {
  const [od, web] = toQuadlet(config, images).output;
  assert.equal(od?.name, "onedrive.container");
  const s = sections(od?.text ?? "");
  const get = (sec: string, k: string) => (s[sec] ?? []).filter(([x]) => x === k).map(([, v]) => v);
  assert.deepEqual(get("Container", "Image"), [images.onedrive]);
  assert.deepEqual(get("Container", "User"), ["2000"]);
  assert.deepEqual(get("Container", "Group"), ["100"]);
  assert.deepEqual(get("Container", "ReadOnly"), ["false"], "an image's root is writable");
  assert.deepEqual(get("Container", "DropCapability"), ["all"]);
  assert.deepEqual(get("Container", "AddCapability"), [
    "CAP_CHOWN CAP_DAC_OVERRIDE CAP_FOWNER CAP_FSETID CAP_NET_ADMIN CAP_NET_BIND_SERVICE " +
      "CAP_SETFCAP CAP_SETGID CAP_SETPCAP CAP_SETUID CAP_SYS_CHROOT",
  ]);
  assert.deepEqual(get("Container", "NoNewPrivileges"), ["true"]);
  assert.deepEqual(get("Container", "Environment"), ['"GREETING=hello world"', "PCT=100%%"]);
  assert.deepEqual(get("Container", "Volume"), [
    "/srv/onedrive/conf:/onedrive/conf",
    "/srv/onedrive/data:/onedrive/data:ro",
  ]);
  assert.deepEqual(get("Container", "Network"), ["host"]);
  assert.deepEqual(get("Container", "Memory"), ["512m"]);
  assert.deepEqual(get("Container", "PidsLimit"), ["100"]);
  assert.deepEqual(get("Container", "PodmanArgs"), ["--cpus=0.5"]);
  assert.deepEqual(get("Container", "HealthCmd"), ['["CMD","/bin/check","--quick"]']);
  assert.deepEqual(get("Container", "HealthInterval"), ["1m"]);
  assert.deepEqual(get("Container", "HealthStartPeriod"), ["20s"]);
  assert.deepEqual(get("Container", "Annotation"), ["org.example/owner=nas"]);
  assert.deepEqual(get("Unit", "Requires"), ["web.service"], "the host program is not exported");
  assert.deepEqual(get("Service", "Restart"), ["on-failure"]);
  assert.deepEqual(get("Install", "WantedBy"), ["multi-user.target default.target"]);

  const w = sections(web?.text ?? "");
  const wget = (k: string) => (w["Container"] ?? []).filter(([x]) => x === k).map(([, v]) => v);
  assert.deepEqual(wget("Exec"), ['nginx -g "daemon off;"']);
  assert.deepEqual(wget("Entrypoint"), ['["/docker-entrypoint.sh","--"]']);
  assert.deepEqual(wget("PublishPort"), ["127.0.0.1:8080:80"]);
  assert.deepEqual(wget("Network"), ["private-web.network"], "network private: one of its own");
  const net = toQuadlet(config, images).output.find((f) => f.name === "private-web.network");
  assert.deepEqual(sections(net?.text ?? ""), { Network: [["NetworkName", "private-web"]] });
  assert.deepEqual(wget("User"), ["nginx"]);
  assert.deepEqual(wget("Tmpfs"), ["/tmp:nosuid,nodev,noexec,size=64m"]);
  assert.equal(w["Install"], undefined, "autoStart false: not wanted by any target");
});

test("several networks: a Network= each, aliases as podman's per-network options", () => {
  const multi = resolveConfig(
    {
      networks: { front: {}, back: { subnet: "10.20.0.0/24" } },
      containers: {
        proxy: {
          image: "nginx:1.25",
          networks: { front: {}, back: { aliases: ["www", "nginx.lan"] } },
          ports: ["8000-8002:8000-8002"],
        },
      },
    },
    fakeContext(),
  );
  const files = toQuadlet(multi, {}).output;
  const c = sections(files.find((f) => f.name === "proxy.container")?.text ?? "");
  const get = (k: string) => (c["Container"] ?? []).filter(([x]) => x === k).map(([, v]) => v);
  assert.deepEqual(get("Network"), ["front.network", "back.network:alias=www,alias=nginx.lan"]);
  assert.deepEqual(get("PublishPort"), ["127.0.0.1:8000-8002:8000-8002"]);
  assert.deepEqual(
    files.map((f) => f.name),
    ["proxy.container", "back.network", "front.network"],
  );
});

test("warnings name what Quadlet cannot carry", () => {
  const w = toQuadlet(config, images).warnings.join("\n");
  assert.match(w, /containers\.tool: a host program \(args\) has no image/);
  assert.match(w, /containers\.onedrive\.dependsOn: tool is a host program/);
});

test("words are quoted as systemd reads them, % doubled", () => {
  assert.equal(quadletWord("plain/path"), "plain/path");
  assert.equal(quadletWord('say "hi"'), '"say \\"hi\\""');
  assert.equal(quadletWord("50%"), "50%%");
});

test("the Quadlet output is deterministic and matches its snapshot", () => {
  const text = toQuadlet(config, images)
    .output.map((f) => f.text)
    .join("\n");
  assert.equal(
    text,
    toQuadlet(config, images)
      .output.map((f) => f.text)
      .join("\n"),
  );
  snapshot(join(REPO_ROOT, "src/export/__snapshots__"), "quadlet.container", text);
});

test("secrets become Secret= mounts, with the podman secret create command for each", () => {
  const c = resolveConfig(
    {
      secrets: { pw: { file: "/etc/pw" }, token: { encrypted: "/etc/t.cred" } },
      containers: {
        db: { image: "postgres", secrets: ["pw", { source: "token", uid: 999, mode: "0400" }] },
        // podman keeps one copy of a secret per container, so two owners of one cannot both hold.
        twice: { image: "postgres", secrets: ["pw", { source: "pw", target: "/pw", uid: 999 }] },
      },
    },
    fakeContext(),
  );
  const r = toQuadlet(c, {
    db: "docker.io/library/postgres:latest",
    twice: "docker.io/library/postgres:latest",
  });
  const text = r.output[0]?.text ?? "";
  assert.match(text, /^Secret=pw,type=mount,target=\/run\/secrets\/pw,uid=0,gid=0,mode=0444$/m);
  assert.match(
    text,
    /^Secret=token,type=mount,target=\/run\/secrets\/token,uid=999,gid=0,mode=0400$/m,
  );
  const w = r.warnings.join("\n");
  assert.match(w, /podman secret create pw \/etc\/pw/);
  assert.match(w, /systemd-creds decrypt \/etc\/t\.cred - \| podman secret create token -/);
  assert.equal(
    w.match(/containers\.twice\.secrets: create pw/g)?.length,
    1,
    "one create per secret",
  );
  assert.match(w, /containers\.twice\.secrets: pw is mounted twice with different owners/);
  assert.doesNotMatch(w, /containers\.db\.secrets: .* mounted twice/);
});

test("CDI devices are named to podman as they are to railyard", () => {
  const c = resolveConfig(
    {
      containers: { ml: { image: "ollama/ollama", devices: ["/dev/fuse", "nvidia.com/gpu=all"] } },
    },
    fakeContext(),
  );
  const [ml] = toQuadlet(c, { ml: "docker.io/ollama/ollama@sha256:" + "a".repeat(64) }).output;
  assert.match(
    ml?.text ?? "",
    /^AddDevice=\/dev\/fuse:\/dev\/fuse:rwm\nAddDevice=nvidia\.com\/gpu=all$/m,
  );
});
