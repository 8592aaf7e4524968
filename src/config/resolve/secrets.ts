/** Declared secrets, and the secrets a container mounts (compose's long syntax and defaults). */
import { type ConfigProblem } from "../../errors.js";
import type { Report } from "./context.js";
import { checkAbsolutePath, cleanPath } from "../../model/parse.js";
import type { ContainerConfig, ResolvedSecretMount } from "../../model/types.js";
import { formatPath } from "./problems.js";

/** A secret's name becomes a systemd credential's name and a file name. */
export const SECRET_NAME = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,62}$/;

export function resolveSecrets(
  raw: Record<string, { file?: string | undefined; encrypted?: string | undefined }>,
  problems: ConfigProblem[],
): Record<string, { file?: string; encrypted?: string }> {
  const out: Record<string, { file?: string; encrypted?: string }> = {};
  for (const name of Object.keys(raw).sort()) {
    const at = (...p: string[]) => formatPath(["secrets", name, ...p]);
    const s = raw[name] ?? {};
    if (!SECRET_NAME.test(name)) {
      problems.push({
        path: at(),
        message: `${JSON.stringify(name)} is not a secret name. expected 1 to 63 of a-z A-Z 0-9 _ . -, not starting with "." or "-"`,
      });
      continue;
    }
    const given = (["file", "encrypted"] as const).filter((k) => s[k] !== undefined);
    if (given.length !== 1) {
      problems.push({
        path: at(),
        message:
          "needs exactly one of file (a file holding the value) and encrypted (a credential made with systemd-creds encrypt)",
      });
      continue;
    }
    const key = given[0] as "file" | "encrypted";
    const path = s[key] as string;
    const bad = checkAbsolutePath(path);
    if (bad) problems.push({ path: at(key), message: bad });
    else out[name] = { [key]: path };
  }
  return out;
}

/** Compose's defaults for a secret in a container: /run/secrets/<name>, root, 0444. */
export const SECRETS_DIR = "/run/secrets";

export function resolveContainerSecrets(
  list: readonly (string | NonNullable<ContainerConfig["secrets"]>[number])[],
  declared: ReadonlySet<string>,
  backend: string,
  r: Report,
): ResolvedSecretMount[] {
  const out: ResolvedSecretMount[] = [];
  if (list.length > 0 && backend !== "oci")
    r(
      ["secrets"],
      `secrets run with backend "oci" only, for now (railyard export carries them). use backend "oci"`,
    );
  list.forEach((item, i) => {
    const s = typeof item === "string" ? { source: item } : item;
    const at = typeof item === "string" ? [i] : [i, "source"];
    if (!declared.has(s.source)) {
      r(
        ["secrets", ...at],
        `${JSON.stringify(s.source)} is not under the top-level secrets. expected one of: ${[...declared].join(", ") || "(none declared)"}`,
      );
      return;
    }
    const t = s.target ?? s.source;
    const target = t.startsWith("/") ? cleanPath(t) : `${SECRETS_DIR}/${t}`;
    const bad = checkAbsolutePath(target);
    if (bad || (!t.startsWith("/") && t.includes("/"))) {
      r(
        ["secrets", i, "target"],
        bad ?? `a relative target is a file name under ${SECRETS_DIR}, without "/"`,
      );
      return;
    }
    if (out.some((o) => o.target === target)) {
      r(["secrets", i, "target"], `${target} is already the target of another secret`);
      return;
    }
    let mode = 0o444;
    if (typeof s.mode === "string") {
      if (!/^0?[0-7]{3}$/.test(s.mode)) {
        r(["secrets", i, "mode"], `${JSON.stringify(s.mode)} is not an octal mode such as "0440"`);
        return;
      }
      mode = parseInt(s.mode, 8);
    } else if (s.mode !== undefined) mode = s.mode;
    out.push({ source: s.source, target, uid: s.uid ?? 0, gid: s.gid ?? 0, mode });
  });
  return out;
}
