/**
 * A git repository as a build context (`build: "https://host/repo.git#ref:subdir"`): fetched
 * with the host's git into the state dir, one commit deep, and checked out without its .git (as
 * docker's builder gives a git context), so the build hashes and builds it like a directory. It
 * is fetched at the first build and again at `railyard update`; in between, the checkout stays,
 * as a pulled image's tag stays resolved until an update.
 *
 * Per container: `<stateDir>/build-git/NAME/` holds `repo.git` (bare, fetched into), `source`
 * (which URL and ref gave which commit) and `tree-COMMIT` (the checkout). I/O.
 */
import { randomBytes } from "node:crypto";
import {
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  realpathSync,
  renameSync,
  rmSync,
} from "node:fs";
import { join, sep } from "node:path";
import type { GitContext } from "../model/git-context.js";
import type { ResolvedBuild } from "../model/types.js";
import { BuildError } from "../errors.js";
import { exec as realExec, type Exec } from "../util/exec.js";
import { writeFileAtomic } from "../util/atomic.js";

/** Where a container's git context is kept. */
export const gitCheckoutDir = (stateDir: string, container: string): string =>
  join(stateDir, "build-git", container);

export interface CheckoutOptions {
  /** Fetch even when a checkout of this URL and ref exists (`railyard update`). */
  readonly update: boolean;
  /** git's path (hostProbe().which("git")); undefined when git is not installed. */
  readonly git: string | undefined;
  readonly where: string;
  readonly container: string;
  readonly exec?: Exec;
  readonly env?: NodeJS.ProcessEnv;
}

/**
 * The build with its git context fetched and checked out: `context` and `dockerfile` become
 * paths in the checkout, which both must stay inside (a repository's symlink cannot point the
 * build at the host's files). Throws BuildError when git is missing or cannot fetch.
 */
export async function checkoutGitContext(
  b: ResolvedBuild & { readonly git: GitContext },
  dir: string,
  o: CheckoutOptions,
): Promise<ResolvedBuild> {
  const g = b.git;
  const source = `${g.url}#${g.ref ?? ""}`;
  const known = readSource(dir);
  let commit = known?.source === source ? known.commit : undefined;
  if (o.update || commit === undefined || !existsSync(join(dir, `tree-${commit}`)))
    commit = await fetchCommit(g, dir, o);
  const tree = join(dir, `tree-${commit}`);
  const inside = (path: string, what: string): string => {
    let real: string;
    try {
      real = realpathSync(path);
    } catch {
      throw new BuildError(
        `${o.where}: ${what} is not in ${source} (commit ${commit})`,
        o.container,
      );
    }
    const top = realpathSync(tree);
    if (real !== top && !real.startsWith(top + sep))
      throw new BuildError(
        `${o.where}: ${what} leaves the repository (a symbolic link)`,
        o.container,
      );
    return real;
  };
  const context = inside(join(tree, g.subdir ?? ""), `the directory ${g.subdir ?? "/"}`);
  const { git: _git, ...rest } = b;
  return {
    ...rest,
    context,
    ...(b.dockerfile !== undefined
      ? { dockerfile: inside(join(context, b.dockerfile), b.dockerfile) }
      : {}),
  };
}

function readSource(dir: string): { source: string; commit: string } | undefined {
  try {
    const s = JSON.parse(readFileSync(join(dir, "source"), "utf8")) as Record<string, unknown>;
    return typeof s["source"] === "string" && typeof s["commit"] === "string"
      ? { source: s["source"], commit: s["commit"] }
      : undefined;
  } catch {
    return undefined;
  }
}

/** Fetch the ref (one commit deep), check it out as tree-COMMIT, and drop older checkouts. */
async function fetchCommit(g: GitContext, dir: string, o: CheckoutOptions): Promise<string> {
  if (!o.git)
    throw new BuildError(
      `${o.where}: the context is a git repository, and git is not installed. install it (apt-get install git)`,
      o.container,
    );
  const exec = o.exec ?? realExec;
  const repo = join(dir, "repo.git");
  // Never a prompt for a user name (a unit has no terminal), and no config of the user's hooks.
  const env = { ...(o.env ?? process.env), GIT_TERMINAL_PROMPT: "0", GIT_CONFIG_NOSYSTEM: "1" };
  const git = async (what: string, args: string[]) => {
    const r = await exec(o.git as string, ["--git-dir", repo, ...args], { env });
    if (r.code !== 0)
      throw new BuildError(
        `${o.where}: git could not ${what} (exit ${r.code}): ${r.stderr.trim().split("\n").slice(-3).join(" ")}`,
        o.container,
      );
    return r.stdout.trim();
  };
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  if (!existsSync(join(repo, "HEAD"))) await git("make its repository", ["init", "--bare", "-q"]);
  const ref = g.ref ?? "HEAD";
  await git(`fetch ${ref} from ${g.url}`, [
    "fetch",
    "--depth",
    "1",
    "--no-tags",
    "-q",
    "--",
    g.url,
    ref,
  ]);
  const commit = await git("read what it fetched", [
    "rev-parse",
    "--verify",
    "FETCH_HEAD^{commit}",
  ]);
  const tree = join(dir, `tree-${commit}`);
  if (!existsSync(tree)) {
    const tmp = `${tree}.tmp-${randomBytes(4).toString("hex")}`;
    mkdirSync(tmp, { mode: 0o755 });
    try {
      await git(`check out ${commit}`, [
        "--work-tree",
        tmp,
        "checkout",
        "-f",
        "-q",
        commit,
        "--",
        ".",
      ]);
      renameSync(tmp, tree);
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  }
  writeFileAtomic(
    join(dir, "source"),
    `${JSON.stringify({ source: `${g.url}#${g.ref ?? ""}`, commit })}\n`,
  );
  for (const n of readdirSync(dir))
    if (n.startsWith("tree-") && n !== `tree-${commit}`)
      rmSync(join(dir, n), { recursive: true, force: true });
  return commit;
}
