/**
 * A build context that is a git repository, written as docker and compose write one:
 * `https://host/repo.git#ref:subdir`, `git://...`, `ssh://...` or `git@host:repo.git`, where
 * the fragment names a branch, tag or commit and a directory in it. Pure.
 */

export interface GitContext {
  /** The repository, as git fetches it (the URL without its fragment). */
  readonly url: string;
  /** A branch, tag or commit; unset is the repository's default branch (HEAD). */
  readonly ref?: string;
  /** The context's directory inside the repository; unset is its top. */
  readonly subdir?: string;
}

/** A context written as a URL (scheme://) or as git's `user@host:path`, rather than a path. */
export const isRemoteContext = (ctx: string): boolean =>
  /^[a-z][a-z0-9+.-]*:\/\//i.test(ctx) || /^[\w.-]+@[\w.-]+:/.test(ctx);

/**
 * The git repository a remote context names, or a reason it is not one railyard fetches: a
 * plain http(s) URL is a tarball or a Dockerfile to docker (no `.git` before the fragment), and
 * a URL with a password would put it in git's argv, where any process list shows it.
 */
export function parseGitContext(ctx: string): GitContext | { readonly problem: string } {
  const hash = ctx.indexOf("#");
  const url = hash === -1 ? ctx : ctx.slice(0, hash);
  const fragment = hash === -1 ? "" : ctx.slice(hash + 1);
  const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(url)?.[1]?.toLowerCase();
  if (scheme === "http" || scheme === "https") {
    if (!/\.git\/?$/.test(url))
      return {
        problem:
          "is a URL that does not end in .git: railyard builds from a directory or a git repository, not a downloaded archive",
      };
  } else if (scheme !== undefined && !["git", "ssh", "git+ssh", "git+https"].includes(scheme))
    return { problem: `is a ${scheme}:// URL; a git context is https://, ssh:// or git://` };
  if (scheme !== undefined && /^[^/]*\/\/[^/@]*:[^/@]*@/.test(url))
    return {
      problem:
        "has a password in its URL, which would show in the process list. give git the credential another way (a credential helper, or an SSH key and an ssh:// URL)",
    };
  const colon = fragment.indexOf(":");
  const ref = colon === -1 ? fragment : fragment.slice(0, colon);
  const subdir = colon === -1 ? "" : fragment.slice(colon + 1).replace(/^\/+|\/+$/g, "");
  if (ref !== "" && (!/^[\w./-]+$/.test(ref) || ref.startsWith("-") || ref.includes("..")))
    return {
      problem: `names the ref ${JSON.stringify(ref)}, which is not a branch, tag or commit`,
    };
  if (subdir.split("/").some((s) => s === ".." || s === ".") || subdir.includes("\0"))
    return {
      problem: `names the directory ${JSON.stringify(subdir)}, which leaves the repository`,
    };
  return {
    url: url.replace(/^git\+/, ""),
    ...(ref !== "" ? { ref } : {}),
    ...(subdir !== "" ? { subdir } : {}),
  };
}
