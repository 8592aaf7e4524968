/** Image references, normalised as docker does. Pure. */
import { InvalidReferenceError } from "../errors.js";

export interface ImageReference {
  /** Registry host[:port], e.g. "docker.io", "127.0.0.1:5000". */
  readonly domain: string;
  /** Repository path, e.g. "library/ubuntu". */
  readonly path: string;
  readonly tag?: string;
  readonly digest?: string;
}

const DIGEST = /^sha256:[a-f0-9]{64}$|^sha512:[a-f0-9]{128}$/;
const TAG = /^[\w][\w.-]{0,127}$/;
const COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
const DOMAIN =
  /^(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)*|\[[0-9a-fA-F:]+\])(?::\d+)?$/;

export const isDigest = (s: string): boolean => DIGEST.test(s);

/**
 * `ubuntu` -> docker.io/library/ubuntu:latest; `host:port/x` names its own registry;
 * `name@sha256:...` pins a digest (a tag beside it is kept for display only).
 */
export function parseReference(input: string): ImageReference {
  const bad = (why: string) =>
    new InvalidReferenceError(`${JSON.stringify(input)} is not a valid image reference: ${why}`);
  let rest = input.trim();
  if (rest === "") throw bad("it is empty");
  let digest: string | undefined;
  const at = rest.indexOf("@");
  if (at !== -1) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
    if (!DIGEST.test(digest))
      throw bad(`digest ${JSON.stringify(digest)} must be sha256:<64 hex> or sha512:<128 hex>`);
  }
  let tag: string | undefined;
  const colon = rest.lastIndexOf(":");
  if (colon > rest.lastIndexOf("/")) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
    if (!TAG.test(tag))
      throw bad(
        `tag ${JSON.stringify(tag)} must be 1-128 of [A-Za-z0-9_.-], not starting with . or -`,
      );
  }
  const slash = rest.indexOf("/");
  const first = slash === -1 ? "" : rest.slice(0, slash);
  let domain = "docker.io";
  let path = rest;
  if (
    first &&
    (first.includes(".") ||
      first.includes(":") ||
      first === "localhost" ||
      first !== first.toLowerCase())
  ) {
    domain = first;
    path = rest.slice(slash + 1);
    if (!DOMAIN.test(domain)) throw bad(`registry ${JSON.stringify(domain)} is not a host[:port]`);
  }
  if (domain === "index.docker.io" || domain === "registry-1.docker.io") domain = "docker.io";
  if (domain === "docker.io" && !path.includes("/")) path = `library/${path}`;
  for (const c of path.split("/"))
    if (!COMPONENT.test(c))
      throw bad(
        `repository component ${JSON.stringify(c)} must be lowercase letters, digits and separators`,
      );
  if (path.length > 255) throw bad("repository name is longer than 255 characters");
  if (tag === undefined && digest === undefined) tag = "latest";
  return {
    domain,
    path,
    ...(tag !== undefined ? { tag } : {}),
    ...(digest !== undefined ? { digest } : {}),
  };
}

/** The canonical text: `domain/path[:tag][@digest]`. */
export function formatReference(r: ImageReference): string {
  return `${r.domain}/${r.path}${r.tag !== undefined ? `:${r.tag}` : ""}${r.digest !== undefined ? `@${r.digest}` : ""}`;
}

/** Where the registry API lives: docker.io is served at registry-1.docker.io. */
export function registryHost(domain: string): string {
  return domain === "docker.io" ? "registry-1.docker.io" : domain;
}

/** The tag or digest to ask the registry for. */
export const manifestRef = (r: ImageReference): string => r.digest ?? r.tag ?? "latest";
