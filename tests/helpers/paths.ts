import { fileURLToPath } from "node:url";
import { resolve } from "node:path";

/** The repository root, whether this file runs from tests/ or from dist/tests/. */
export const REPO_ROOT = (() => {
  const here = fileURLToPath(new URL(".", import.meta.url));
  return here.includes("/dist/") ? resolve(here, "../../..") : resolve(here, "../..");
})();

/** The official OCI schemas, shared beside the repository (see ../shared/oci-schemas/README.md). */
export const OCI_SCHEMAS = resolve(REPO_ROOT, "../shared/oci-schemas");

export const CLI = resolve(REPO_ROOT, "bin/railyard.cjs");
