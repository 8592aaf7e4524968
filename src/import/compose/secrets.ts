/** Secrets: the top-level ones (file or environment sources) and a service's, long syntax too. */
import { isRecord } from "../../util/record.js";
import { posix } from "node:path";
import type { ContainerConfig, SecretConfig } from "../../model/types.js";
import { type Path, Reader, describe } from "./reader.js";

/**
 * Top-level `secrets`: a `file` source as it is; an `environment` source becomes a file the user
 * is told to create (railyard never copies a value into a config); swarm's `external` has no
 * equivalent.
 */
export function declaredSecrets(v: unknown, r: Reader): Record<string, SecretConfig> {
  const out: Record<string, SecretConfig> = {};
  if (v === undefined) return out;
  if (!isRecord(v)) {
    r.problem(["secrets"], `expected a map of secrets, got ${describe(v)}`);
    return out;
  }
  for (const [name, d] of Object.entries(v)) {
    const at: Path = ["secrets", name];
    if (!isRecord(d)) {
      r.problem(at, `expected a map with file or environment, got ${describe(d)}`);
      continue;
    }
    if (typeof d["file"] === "string") out[name] = { file: r.hostPath(d["file"]) };
    else if (typeof d["environment"] === "string") {
      const file = r.hostPath(posix.join("secrets", name));
      out[name] = { file };
      r.warn(
        [...at, "environment"],
        `comes from the variable ${d["environment"]}; railyard reads secrets from files: write its value to ${file} (mode 0600)`,
      );
    } else
      r.warn(
        at,
        `${d["external"] === true ? "external (swarm) secrets are" : "a secret without file or environment is"} not imported; services that use it will fail to load until you add it under secrets`,
      );
  }
  return out;
}

/** A compose `mode`: YAML may give "0440" as the number 440, so octal-looking digits are octal. */
export function secretMode(v: unknown, path: Path, r: Reader): number | undefined {
  if (typeof v === "number")
    return /^[0-7]{1,4}$/.test(String(v)) && v > 7 ? parseInt(String(v), 8) : v;
  const s = r.string(v, path);
  if (s !== undefined && /^0?[0-7]{1,3}$/.test(s)) return parseInt(s, 8);
  if (s !== undefined)
    r.problem(path, `${JSON.stringify(s)} is not an octal file mode such as "0440"`);
  return undefined;
}

/** A service's `secrets`: names, or compose's long syntax (uid and gid are strings there). */
export function serviceSecrets(
  v: unknown,
  path: Path,
  r: Reader,
): NonNullable<ContainerConfig["secrets"]> {
  if (!Array.isArray(v)) {
    r.problem(path, `expected a list, got ${describe(v)}`);
    return [];
  }
  return v.flatMap((item: unknown, i): NonNullable<ContainerConfig["secrets"]> => {
    const at = [...path, i];
    if (typeof item === "string") return [item];
    if (!isRecord(item) || typeof item["source"] !== "string") {
      r.problem(at, `expected a secret name or a map with source, got ${describe(item)}`);
      return [];
    }
    const id = (k: "uid" | "gid") => {
      const x = item[k];
      if (x === undefined) return undefined;
      const n = Number(x);
      if (!Number.isInteger(n) || n < 0)
        r.problem([...at, k], `expected a numeric id, got ${describe(x)}`);
      return Number.isInteger(n) && n >= 0 ? n : undefined;
    };
    const uid = id("uid");
    const gid = id("gid");
    const mode =
      item["mode"] === undefined ? undefined : secretMode(item["mode"], [...at, "mode"], r);
    const target =
      item["target"] === undefined ? undefined : r.string(item["target"], [...at, "target"]);
    return [
      {
        source: item["source"],
        ...(target !== undefined ? { target } : {}),
        ...(uid !== undefined ? { uid } : {}),
        ...(gid !== undefined ? { gid } : {}),
        ...(mode !== undefined ? { mode } : {}),
      },
    ];
  });
}
