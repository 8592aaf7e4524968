import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, readdirSync, rmSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { ConfigError } from "../errors.js";
import { findConfigFile, loadConfig, readConfigFile } from "./load.js";

const dir = mkdtempSync(join(tmpdir(), "railyard-load-"));
after(() => rmSync(dir, { recursive: true, force: true }));
const env = { command: "check", env: {} };

function write(name: string, text: string): string {
  const p = join(dir, name);
  mkdirSync(join(p, ".."), { recursive: true });
  writeFileSync(p, text);
  return p;
}

test("the config is found by --config, then $RAILYARD_CONFIG, then ./railyard.config.*, then /etc/railyard", () => {
  const cwd = join(dir, "find");
  const etc = join(dir, "etc");
  write("find/railyard.config.yaml", "containers: {}\n");
  write("etc/railyard.config.json", "{}");
  write("named.json", "{}");
  write("fromenv.json", "{}");
  assert.equal(
    findConfigFile({
      flag: "../named.json",
      env: { RAILYARD_CONFIG: join(dir, "fromenv.json") },
      cwd,
      etcDir: etc,
    }),
    join(dir, "named.json"),
  );
  assert.equal(
    findConfigFile({ env: { RAILYARD_CONFIG: join(dir, "fromenv.json") }, cwd, etcDir: etc }),
    join(dir, "fromenv.json"),
  );
  assert.equal(findConfigFile({ env: {}, cwd, etcDir: etc }), join(cwd, "railyard.config.yaml"));
  assert.equal(
    findConfigFile({ env: {}, cwd: dir, etcDir: etc }),
    join(etc, "railyard.config.json"),
  );
  assert.throws(
    () => findConfigFile({ env: {}, cwd: join(dir, "nowhere"), etcDir: join(dir, "nowhere") }),
    new RegExp(
      `^ConfigError: ${join(dir, "nowhere")}: no config file found\\. looked for railyard\\.config\\.ts,`,
    ),
  );
  assert.throws(
    () => findConfigFile({ flag: "missing.ts", env: {}, cwd: dir }),
    (e: unknown) =>
      e instanceof ConfigError &&
      /missing\.ts: config file not found \(named by --config\)/.test(e.message),
  );
});

test("a TypeScript config imports defineConfig from railyard and is type-stripped, no build step", async () => {
  const p = write(
    "ts/railyard.config.ts",
    `import { defineConfig } from "railyard";\nconst n: number = 2;\nexport default defineConfig({ containers: { hello: { args: ["/bin/busybox", "echo", String(n)] } } });\n`,
  );
  const c = await loadConfig({ flag: p, env: {}, cwd: dir, command: "check" });
  assert.deepEqual(c.containers["hello"]?.args, ["/bin/busybox", "echo", "2"]);
});

test("a script config is compiled once: later loads reuse it until it or a file it imports changes", async () => {
  const cache = join(dir, "cache");
  const cenv = { command: "check", env: { XDG_CACHE_HOME: cache } };
  write("multi/ports.ts", `export const port: number = 8080;\n`);
  const p = write(
    "multi/railyard.config.ts",
    `import { defineConfig } from "railyard";\nimport { port } from "./ports.ts";\nexport default defineConfig({ containers: { web: { args: ["/bin/busybox", "httpd", "-p", String(port)] } } });\n`,
  );
  const args = async () =>
    ((await readConfigFile(p, cenv)) as { containers: { web: { args: string[] } } }).containers.web
      .args;
  assert.deepEqual(await args(), ["/bin/busybox", "httpd", "-p", "8080"]);
  const compiled = readdirSync(join(cache, "railyard/config"));
  assert.equal(compiled.filter((f) => f.endsWith(".mjs")).length, 1);
  // Unchanged: the same compiled module, nothing new written.
  await args();
  assert.deepEqual(readdirSync(join(cache, "railyard/config")), compiled);
  // The imported file changes (same size, so the mtime must tell): the config is compiled again.
  write("multi/ports.ts", `export const port: number = 9090;\n`);
  utimesSync(join(dir, "multi/ports.ts"), new Date(), new Date(Date.now() + 5000));
  assert.deepEqual(await args(), ["/bin/busybox", "httpd", "-p", "9090"]);
  // The stale compiled module is gone: the cache holds one module per config.
  const now = readdirSync(join(cache, "railyard/config")).filter((f) => f.endsWith(".mjs"));
  assert.equal(now.length, 1);
  assert.notDeepEqual(
    now,
    compiled.filter((f) => f.endsWith(".mjs")),
  );
});

test("a script config still loads when the compile cache cannot be written", async () => {
  const blocked = write("not-a-dir", "a file where the cache directory would go\n");
  const p = write(
    "ro/railyard.config.ts",
    `import { defineConfig } from "railyard";\nexport default defineConfig({ containers: {} });\n`,
  );
  assert.deepEqual(
    await readConfigFile(p, { command: "check", env: { XDG_CACHE_HOME: blocked } }),
    { containers: {} },
  );
});

test("a config may export a function of the command and environment", async () => {
  const p = write(
    "fn/railyard.config.mjs",
    `export default ({ command, env }) => ({ containers: { [command]: { args: ["/bin/true"], environment: { X: env.X } } } });\n`,
  );
  const c = await loadConfig({ flag: p, env: { X: "42" }, cwd: dir, command: "build" });
  assert.equal(c.containers["build"]?.environment["X"], "42");
});

test("--state-dir overrides stateDir", async () => {
  const p = write("sd.json", JSON.stringify({ stateDir: "/srv/a", containers: {} }));
  assert.equal(
    (await loadConfig({ flag: p, env: {}, cwd: dir, command: "check" })).stateDir,
    "/srv/a",
  );
  assert.equal(
    (await loadConfig({ flag: p, env: {}, cwd: dir, command: "check", stateDir: "/srv/b" }))
      .stateDir,
    "/srv/b",
  );
});

test("syntax errors name the file and the position", async () => {
  await assert.rejects(
    readConfigFile(write("bad.json", "{ containers: "), env),
    /bad\.json: invalid JSON/,
  );
  await assert.rejects(
    readConfigFile(write("bad.yaml", "containers:\n  a: [1,\n"), env),
    /bad\.yaml: invalid YAML at line \d+, column \d+/,
  );
  await assert.rejects(
    readConfigFile(
      write("bad/railyard.config.ts", "export default defineConfig({ containers: { \n"),
      env,
    ),
    /railyard\.config\.ts: cannot load: .*(Unexpected|Expected|ParseError)/s,
  );
  await assert.rejects(
    readConfigFile(write("nodefault.mjs", "export const x = 1;\n"), env),
    /has no default export/,
  );
  await assert.rejects(
    readConfigFile(write("dup.yaml", "a: 1\na: 2\n"), env),
    /invalid YAML.*(Map keys must be unique|duplicate)/i,
  );
});
