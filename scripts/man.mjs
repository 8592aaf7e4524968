// Writes the man pages, made from the help text (src/cli/man.ts), into dist/man/man1/.
import { execFileSync } from "node:child_process";
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { URL } from "node:url";
import { commandHelp, commands, mainHelp } from "../dist/src/cli/main.js";
import { manPages } from "../dist/src/cli/man.js";

const pkg = JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8"));
// The date of the commit built from, so that the same commit gives the same pages.
let date = "";
try {
  date = execFileSync("git", ["log", "-1", "--format=%cs"], { encoding: "utf8" }).trim();
} catch {
  // not a git checkout
}
const dir = new URL("../dist/man/man1/", import.meta.url);
rmSync(dir, { recursive: true, force: true });
mkdirSync(dir, { recursive: true });
const pages = manPages({
  commands: commands(),
  mainHelp: mainHelp(),
  commandHelp,
  version: pkg.version,
  date,
});
for (const [name, text] of Object.entries(pages)) writeFileSync(new URL(name, dir), text);
