// `npm run corpus [-- DIR]`: imports every compose project of a corpus (default
// ../shared/compose-corpus, one project a folder) through the built CLI, as a user would run
// `railyard import compose` in that folder, and prints for each what did not carry over and why.
// Not part of `npm test`: the corpus is other projects' files and lives outside the repository.
// A folder's `shell.env` holds what the project's docs tell the user to export first.
// Exits 1 when any project fails to import.
import { spawnSync } from "node:child_process";
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const repo = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const corpus = resolve(process.argv[2] ?? join(repo, "..", "shared", "compose-corpus"));
const cli = join(repo, "bin", "railyard.cjs");
if (!existsSync(corpus)) {
  console.error(`compose-corpus: ${corpus} does not exist; give the corpus directory`);
  process.exit(2);
}

/** KEY=value lines of a shell.env, comments and blanks skipped. */
const shellEnv = (file) =>
  existsSync(file)
    ? Object.fromEntries(
        readFileSync(file, "utf8")
          .split("\n")
          .filter((l) => /^[A-Za-z_][A-Za-z0-9_]*=/.test(l))
          .map((l) => [l.slice(0, l.indexOf("=")), l.slice(l.indexOf("=") + 1)]),
      )
    : {};

const projects = readdirSync(corpus)
  .filter((name) => statSync(join(corpus, name)).isDirectory())
  .sort();
let failed = 0;
let notes = 0;
for (const name of projects) {
  const dir = join(corpus, name);
  const r = spawnSync(process.execPath, [cli, "--json", "import", "compose"], {
    cwd: dir,
    env: { ...process.env, ...shellEnv(join(dir, "shell.env")) },
    encoding: "utf8",
  });
  if (r.status !== 0) {
    failed++;
    console.log(`${name}: FAILED (exit ${r.status})\n  ${r.stderr.trim().replace(/\n/g, "\n  ")}`);
    continue;
  }
  const { config, warnings, files } = JSON.parse(r.stdout);
  notes += warnings.length;
  const containers = Object.keys(config.containers ?? {});
  console.log(
    `${name}: ${containers.length} containers (${containers.join(", ")}) from ${files.map((f) => f.slice(dir.length + 1)).join(" + ")}; ${warnings.length} not carried or changed`,
  );
  for (const w of warnings) console.log(`  - ${w}`);
}
console.log(
  `\n${projects.length - failed} of ${projects.length} projects import; ${notes} keys or values not carried or changed, each said above`,
);
process.exit(failed > 0 ? 1 : 0);
