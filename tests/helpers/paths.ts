import { fileURLToPath } from "node:url";
import { resolve } from "node:path";

/** The repository root, whether this file runs from tests/ or from dist/tests/. */
export const REPO_ROOT = (() => {
  const here = fileURLToPath(new URL(".", import.meta.url));
  return here.includes("/dist/") ? resolve(here, "../../..") : resolve(here, "../..");
})();

/**
 * The official OCI JSON schemas, as Debian 12 ships them (setup.sh installs
 * golang-github-opencontainers-specs-dev and -image-spec-dev): a clone needs nothing beside it.
 */
export const OCI_SCHEMAS = {
  "runtime-spec": "/usr/share/gocode/src/github.com/opencontainers/runtime-spec/schema",
  "image-spec": "/usr/share/gocode/src/github.com/opencontainers/image-spec/schema",
} as const;

export const CLI = resolve(REPO_ROOT, "bin/railyard.cjs");
