import assert from "node:assert/strict";
import { test } from "node:test";
import { ConfigError } from "../../errors.js";
import { parseDotEnv } from "../interpolate.js";
import { fromCompose } from "./index.js";
import { mergeFiles } from "./merge.js";
import { composeProject, parseComposeYaml, type ProjectOptions } from "./project.js";

/** A project directory held in memory: path -> text. */
const project = (files: Record<string, string>, o: Partial<ProjectOptions> = {}) =>
  composeProject({ files: [], dir: "/srv/app", env: {}, profiles: [], ...o }, (f) => files[f]);
type Svc = Record<string, unknown>;
const services = (p: { doc: Record<string, unknown> }) => p.doc["services"] as Record<string, Svc>;
const problemsOf = (f: () => unknown): string[] => {
  try {
    f();
  } catch (e) {
    if (e instanceof ConfigError) return e.problems.map((p) => `${p.path}: ${p.message}`);
    throw e;
  }
  return [];
};

test("compose.override.yaml beside compose.yaml is merged, as docker compose up reads them", () => {
  const p = project({
    "/srv/app/compose.yaml": "services:\n  web:\n    image: nginx\n    environment: [A=1, B=2]\n",
    "/srv/app/compose.override.yml":
      "services:\n  web:\n    ports: ['80:80']\n    environment:\n      B: three\n",
  });
  assert.deepEqual(p.files, ["/srv/app/compose.yaml", "/srv/app/compose.override.yml"]);
  assert.deepEqual(services(p)["web"]?.["ports"], ["80:80"]);
  assert.deepEqual(services(p)["web"]?.["environment"], { A: "1", B: "three" });
});

test("files given are merged in order, without the override file; a missing one is named", () => {
  const files = {
    "/srv/app/compose.yaml": "services:\n  web:\n    image: nginx:1\n    command: [a, b]\n",
    "/srv/app/compose.override.yml": "services:\n  web:\n    ports: ['80:80']\n",
    "/srv/app/prod.yml": "services:\n  web:\n    image: nginx:2\n    command: [c]\n",
  };
  const p = project(files, { files: ["/srv/app/compose.yaml", "/srv/app/prod.yml"] });
  assert.equal(services(p)["web"]?.["image"], "nginx:2");
  // Shell commands are replaced, never appended.
  assert.deepEqual(services(p)["web"]?.["command"], ["c"]);
  assert.equal(services(p)["web"]?.["ports"], undefined);
  assert.deepEqual(
    problemsOf(() => project(files, { files: ["/srv/app/nope.yml"] })),
    [": no such file"],
  );
});

test("COMPOSE_FILE in .env lists the files, split on COMPOSE_PATH_SEPARATOR", () => {
  const p = project({
    "/srv/app/.env": "COMPOSE_FILE='server.yml,proxy.yml'\nCOMPOSE_PATH_SEPARATOR=','\n",
    "/srv/app/server.yml": "services:\n  app:\n    image: app\n",
    "/srv/app/proxy.yml": "services:\n  proxy:\n    image: caddy\n",
  });
  assert.deepEqual(p.files, ["/srv/app/server.yml", "/srv/app/proxy.yml"]);
  assert.deepEqual(Object.keys(services(p)), ["app", "proxy"]);
});

test(".env values use the variables above them, and the environment wins", () => {
  assert.deepEqual(parseDotEnv("BASE=/opt\nDATA=$BASE/data\nLIT='$BASE'\nQ=\"${BASE}/q\"\n"), {
    vars: { BASE: "/opt", DATA: "/opt/data", LIT: "$BASE", Q: "/opt/q" },
  });
  assert.deepEqual(parseDotEnv("BASE=/opt\nDATA=$BASE/data\n", { BASE: "/tank" }), {
    vars: { BASE: "/opt", DATA: "/tank/data" },
  });
  assert.deepEqual(parseDotEnv("A=${NOPE:?set NOPE first}\n"), {
    badLine: 1,
    why: "NOPE is required: set NOPE first",
  });
  const p = project({
    "/srv/app/.env": "BASE=/opt\nVOL=$BASE/seafile-data\n",
    "/srv/app/compose.yaml": "services:\n  app:\n    image: app\n    volumes: ['${VOL}:/shared']\n",
  });
  assert.deepEqual(services(p)["app"]?.["volumes"], ["/opt/seafile-data:/shared"]);
});

test("volumes, ports and secrets stay unique by target; environment and labels merge by key", () => {
  const merged = mergeFiles([
    {
      services: {
        a: {
          volumes: ["./one:/data", "/cache"],
          ports: ["80:80"],
          labels: ["x=1"],
          dns: ["1.1.1.1"],
        },
      },
    },
    {
      services: {
        a: {
          volumes: ["./two:/data"],
          ports: ["80:80", "443:443"],
          labels: { y: "2" },
          dns: ["1.1.1.1", "9.9.9.9"],
        },
      },
    },
  ]);
  const a = (merged["services"] as Record<string, Svc>)["a"] ?? {};
  assert.deepEqual(a["volumes"], ["./two:/data", "/cache"]);
  assert.deepEqual(a["ports"], ["80:80", "443:443"]);
  assert.deepEqual(a["labels"], { x: "1", y: "2" });
  assert.deepEqual(a["dns"], ["1.1.1.1", "9.9.9.9"]);
});

test("!reset removes a value and !override replaces one, as compose's merge tags", () => {
  const base = parseComposeYaml(
    "services:\n  a:\n    image: x\n    ports: ['80:80']\n    volumes: ['/a:/a']\n",
    "a.yml",
  );
  const over = parseComposeYaml(
    "services:\n  a:\n    ports: !reset []\n    volumes: !override ['/b:/b']\n",
    "b.yml",
  );
  const a = (mergeFiles([base, over])["services"] as Record<string, Svc>)["a"] ?? {};
  assert.equal(a["ports"], undefined);
  assert.deepEqual(a["volumes"], ["/b:/b"]);
});

test("a key named __proto__ in a file stays a key", () => {
  const merged = mergeFiles([
    parseComposeYaml("services:\n  a:\n    environment:\n      A: '1'\n", "a.yml"),
    parseComposeYaml("services:\n  a:\n    environment: ['__proto__=x']\n", "b.yml"),
  ]);
  const env = (merged["services"] as Record<string, Svc>)["a"]?.["environment"] as Svc;
  assert.equal(Object.getPrototypeOf(env), Object.prototype);
  assert.equal(Object.hasOwn(env, "__proto__"), true);
});

test("a service in a profile runs only when the profile is active; an unknown profile is an error", () => {
  const files = {
    "/srv/app/compose.yaml":
      "services:\n  app:\n    image: app\n  watchtower:\n    image: w\n    profiles: [update]\n",
  };
  const off = project(files);
  assert.deepEqual(Object.keys(services(off)), ["app"]);
  assert.match(
    off.warnings.join("\n"),
    /services\.watchtower: in the profile update, which is not active/,
  );
  assert.deepEqual(Object.keys(services(project(files, { profiles: ["update"] }))), [
    "app",
    "watchtower",
  ]);
  assert.deepEqual(Object.keys(services(project(files, { env: { COMPOSE_PROFILES: "update" } }))), [
    "app",
    "watchtower",
  ]);
  assert.deepEqual(
    problemsOf(() => project(files, { profiles: ["nightly"] })),
    ['profiles: no service is in the profile "nightly"; the profiles are update'],
  );
  assert.deepEqual(
    problemsOf(() =>
      project({
        "/srv/app/compose.yaml":
          "services:\n  app:\n    image: app\n    depends_on: [db]\n  db:\n    image: pg\n    profiles: [db]\n",
      }),
    ),
    [
      "services.app.depends_on: db is in a profile that is not active; activate it (--profile) or remove the dependency",
    ],
  );
});

test("extends takes a service's keys from this file or another, whose paths stay its own", () => {
  const p = project({
    "/srv/app/compose.yaml":
      "services:\n  web:\n    extends: { service: base, file: common/base.yml }\n    environment: { MODE: web }\n" +
      "  worker:\n    extends: web\n    command: [work]\n",
    "/srv/app/common/base.yml":
      "services:\n  base:\n    image: app:1\n    env_file: base.env\n    volumes: ['./data:/data']\n    environment: { TZ: UTC }\n",
  });
  const web = services(p)["web"] ?? {};
  assert.equal(web["image"], "app:1");
  assert.deepEqual(web["environment"], { TZ: "UTC", MODE: "web" });
  assert.equal(web["env_file"], "./common/base.env");
  assert.deepEqual(web["volumes"], ["./common/data:/data"]);
  assert.equal(web["extends"], undefined);
  assert.deepEqual(services(p)["worker"]?.["command"], ["work"]);
  assert.equal(services(p)["worker"]?.["image"], "app:1");
  assert.deepEqual(
    problemsOf(() =>
      project({
        "/srv/app/compose.yaml": "services:\n  a:\n    extends: b\n  b:\n    extends: a\n",
      }),
    ).length > 0,
    true,
  );
});

test("include adds another project's services, with its paths its own; a clash is an error", () => {
  const p = project({
    "/srv/app/compose.yaml":
      "include: [db/compose.yaml]\nservices:\n  app:\n    image: app\n    depends_on: [db]\n",
    "/srv/app/db/compose.yaml":
      "services:\n  db:\n    image: postgres\n    volumes: ['./pg:/var/lib/postgresql/data']\n",
  });
  assert.deepEqual(Object.keys(services(p)).sort(), ["app", "db"]);
  assert.deepEqual(services(p)["db"]?.["volumes"], ["/srv/app/db/pg:/var/lib/postgresql/data"]);
  assert.equal(p.doc["include"], undefined);
  assert.deepEqual(
    problemsOf(() =>
      project({
        "/srv/app/compose.yaml": "include: [db.yml]\nservices:\n  db:\n    image: x\n",
        "/srv/app/db.yml": "services:\n  db:\n    image: y\n",
      }),
    ),
    ["include[0]: /srv/app/db.yml defines the service db, which this file defines too"],
  );
});

test("~ at the start of a host path is the user's home, as compose expands it", () => {
  const p = project({
    "/srv/app/compose.yaml":
      "services:\n  app:\n    image: app\n    volumes: ['~/OneDrive:/onedrive/data']\n",
  });
  const { config } = fromCompose(p.doc, {
    file: "/srv/app/compose.yaml",
    dir: p.dir,
    env: p.env,
    volumesDir: "/var/lib/railyard/volumes",
    home: "/home/nas",
    interpolated: true,
  });
  assert.deepEqual(config.containers?.["app"]?.volumes, ["/home/nas/OneDrive:/onedrive/data"]);
});

test("a $$ survives a project's one interpolation as a literal $", () => {
  const p = project({
    "/srv/app/compose.yaml": "services:\n  app:\n    image: app\n    command: ['echo', '$$HOME']\n",
  });
  const { config } = fromCompose(p.doc, {
    file: "/srv/app/compose.yaml",
    dir: p.dir,
    env: p.env,
    volumesDir: "/v",
    home: "/root",
    interpolated: true,
  });
  assert.deepEqual(config.containers?.["app"]?.cmd, ["echo", "$HOME"]);
});

test("a remote build context stays a URL when extends takes it from another directory's file", () => {
  const p = project({
    "/srv/app/compose.yaml":
      "services:\n  app:\n    extends: { service: base, file: common/base.yml }\n",
    "/srv/app/common/base.yml":
      "services:\n  base:\n    image: app:1\n    build: { context: 'git+ssh://git@example.com/app.git', dockerfile: Dockerfile }\n",
  });
  assert.deepEqual(services(p)["app"]?.["build"], {
    context: "git+ssh://git@example.com/app.git",
    dockerfile: "Dockerfile",
  });
});
