// Part of `npm run check`: the tracked tree stands alone. No tracked symlink leads outside the
// repository (a clone elsewhere would hold a dangling link), and nothing railyard writes into a
// state dir (a `current` link, generations/, bundles/, a switch lock) is tracked: state belongs
// under /var/lib/railyard or a test's scratch dir, never in the work tree.
import { execFileSync } from "node:child_process";
import { readlinkSync } from "node:fs";
import { dirname, isAbsolute, relative, resolve } from "node:path";

const root = execFileSync("git", ["rev-parse", "--show-toplevel"], { encoding: "utf8" }).trim();
const entries = execFileSync("git", ["ls-files", "-s", "-z"], { cwd: root, encoding: "utf8" })
  .split("\0")
  .filter(Boolean)
  .map((line) => {
    const [meta, path] = line.split("\t");
    return { mode: meta.split(" ")[0], path };
  });

const STATE = /(^|\/)(current|switch\.lock|generations\/\d+|bundles\/[^/]+\/config\.json)$/;
const problems = [];
for (const { mode, path } of entries) {
  if (mode === "120000") {
    const target = readlinkSync(resolve(root, path));
    const to = resolve(root, dirname(path), target);
    if (isAbsolute(target) || relative(root, to).startsWith(".."))
      problems.push(`${path}: a symlink out of the repository (to ${target})`);
  }
  if (STATE.test(path)) problems.push(`${path}: railyard state, which never belongs in the tree`);
}
if (problems.length > 0) {
  console.error(`check-tree: ${problems.length} problem(s):\n  ${problems.join("\n  ")}`);
  process.exit(1);
}
console.log(`check-tree: ${entries.length} tracked files, none leaves the tree or is state`);
