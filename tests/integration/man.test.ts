/**
 * The man pages (dist/man/man1, made by `npm run build` from the help text) say what `--help`
 * says, rendered by man itself.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { readdirSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { railyard } from "../helpers/cli.js";
import { REPO_ROOT } from "../helpers/paths.js";

const MAN = join(REPO_ROOT, "dist/man/man1");
const words = (s: string) => s.replace(/\s+/g, " ").trim();

function rendered(page: string): string {
  const r = spawnSync("man", ["-l", join(MAN, page)], {
    encoding: "utf8",
    // Wide enough that no help line is wrapped; plain text, with no hyphenation or adjusting.
    env: { ...process.env, MANWIDTH: "250", MAN_KEEP_FORMATTING: "", LC_ALL: "C.UTF-8" },
  });
  assert.equal(r.status, 0, r.stderr);
  return words(r.stdout);
}

test("each man page holds its command's --help, line for line; railyard(1) lists every page", async () => {
  const pages = readdirSync(MAN).sort();
  const commands = pages.filter((p) => p !== "railyard.1").map((p) => p.slice(9, -2));
  assert.ok(commands.includes("switch") && commands.includes("completion"), pages.join(" "));
  for (const [page, args] of [
    ["railyard.1", ["--help"]],
    ...commands.map((c) => [`railyard-${c}.1`, [c, "--help"]] as const),
  ] as const) {
    const help = await railyard([...args]);
    assert.equal(help.code, 0, help.stderr);
    const text = rendered(page);
    for (const line of help.stdout.split("\n").map(words).filter(Boolean))
      assert.ok(text.includes(line), `${page} lacks: ${line}`);
  }
  const main = rendered("railyard.1");
  for (const c of commands) assert.ok(main.includes(`railyard-${c}(1)`), c);
});
