/**
 * Shell completion through the real shell: bash sources `railyard completion bash` and its
 * completion function runs as on TAB, with `railyard` found on PATH as after set-up.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { railyard, scratchDir } from "../helpers/cli.js";
import { CLI } from "../helpers/paths.js";

const { dir, cleanup } = scratchDir("railyard-completion-");
after(cleanup);
const bin = join(dir, "bin");
const file = join(dir, "railyard.config.json");
const sleeper = { args: ["/bin/busybox", "sleep", "1"] };

before(async () => {
  mkdirSync(bin);
  symlinkSync(CLI, join(bin, "railyard"));
  writeFileSync(
    file,
    JSON.stringify({ stateDir: join(dir, "state"), containers: { web: sleeper, db: sleeper } }),
  );
  const built = await railyard(["--config", file, "build"]);
  assert.equal(built.code, 0, built.stderr);
});

/** What bash's completion offers for the words typed so far (the last one being completed). */
function complete(...words: string[]): string[] {
  const script = `source <(railyard completion bash)
COMP_WORDS=(${["railyard", ...words].map((w) => `'${w}'`).join(" ")}); COMP_CWORD=${words.length}
_railyard; printf '%s\\n' "\${COMPREPLY[@]}"`;
  const r = spawnSync("bash", ["-c", script], {
    encoding: "utf8",
    env: { ...process.env, PATH: `${bin}:${process.env["PATH"] ?? ""}`, RAILYARD_CONFIG: file },
  });
  assert.equal(r.status, 0, r.stderr);
  return r.stdout.split("\n").filter(Boolean).sort();
}

test("bash completes commands, flags, container names and generation numbers", () => {
  assert.deepEqual(complete("sw"), ["switch"]);
  assert.deepEqual(complete("s"), ["start", "stats", "status", "stop", "switch"]);
  assert.deepEqual(complete("logs", ""), ["db", "web"]);
  assert.deepEqual(complete("stop", "web", ""), ["db"], "a name once");
  assert.deepEqual(complete("logs", "web", ""), [], "logs takes one name");
  assert.deepEqual(complete("--config", file, "restart", "w"), ["web"]);
  assert.deepEqual(complete("rollback", "--to", ""), ["1"]);
  assert.deepEqual(complete("switch", "--d"), ["--dry-run"]);
  assert.deepEqual(complete("export", ""), ["compose", "kubernetes", "quadlet"]);
  assert.ok(complete("--config", join(dir, "rail")).includes(file), "--config completes files");
});

test("a config that does not load offers no names, and prints nothing on the terminal", () => {
  const r = spawnSync(
    process.execPath,
    [CLI, "__complete", "--config", "/nonexistent.json", "logs", ""],
    {
      encoding: "utf8",
    },
  );
  assert.equal(r.status, 0);
  assert.equal(r.stdout, "");
  assert.equal(r.stderr, "");
});

test("TAB in a directory with a TypeScript config runs none of its code until a command has", async () => {
  // A cloned repository: its railyard.config.ts leaves a mark when it runs.
  const repo = join(dir, "cloned");
  mkdirSync(repo);
  const mark = join(repo, "ran");
  writeFileSync(
    join(repo, "railyard.config.ts"),
    `import { writeFileSync } from "node:fs";\nwriteFileSync(${JSON.stringify(mark)}, "ran");\n` +
      `export default { stateDir: ${JSON.stringify(join(repo, "state"))}, containers: { app: { args: ["/bin/true"] } } };\n`,
  );
  const env = { ...process.env, RAILYARD_CONFIG: "", XDG_CACHE_HOME: join(dir, "cache") };
  const tab = () =>
    spawnSync(process.execPath, [CLI, "__complete", "logs", ""], {
      cwd: repo,
      encoding: "utf8",
      env,
    });
  const first = tab();
  assert.equal(first.status, 0);
  assert.equal(first.stdout, "", "nothing offered");
  assert.ok(!existsSync(mark), "and nothing of the config ran");
  // Once the user has run it on purpose, its names are offered.
  const check = await railyard(["check"], { cwd: repo, env });
  assert.equal(check.code, 0, check.stderr);
  assert.ok(existsSync(mark));
  assert.equal(tab().stdout, "app\n");
});

const zsh = spawnSync("zsh", ["--version"]).status === 0;
test(
  "zsh completes the same, through compinit",
  { skip: zsh ? false : "zsh is not installed (setup.sh installs it)" },
  () => {
    // Drive the completion function as on TAB; compadd prints what it would offer (zsh itself
    // then keeps those that start with the word typed).
    const script = `autoload -Uz compinit && compinit -u
eval "$(railyard completion zsh)"
compadd() { while [[ "$1" == -* ]]; do [[ "$1" == "--" ]] && { shift; break }; shift; done; print -l -- "$@"; }
_files() { print FILES; }
words=(railyard "$@"); CURRENT=$#words
_railyard`;
    const offer = (...words: string[]) => {
      const r = spawnSync("zsh", ["-f", "-c", script, "zsh", ...words], {
        encoding: "utf8",
        env: { ...process.env, PATH: `${bin}:${process.env["PATH"] ?? ""}`, RAILYARD_CONFIG: file },
      });
      assert.equal(r.status, 0, r.stderr);
      return r.stdout.split("\n").filter(Boolean).sort();
    };
    assert.ok(offer("sw").includes("switch"));
    assert.deepEqual(offer("logs", ""), ["db", "web"]);
    assert.deepEqual(offer("rollback", "--to", ""), ["1"]);
    assert.deepEqual(offer("--config", ""), ["FILES"]);
  },
);
