/** cap_add and cap_drop as compose means them (docker's default set), and sysctls. */
import { isRecord } from "../../util/record.js";
import { IMAGE_CAPABILITIES } from "../../model/capabilities.js";
import { parseCapability } from "../../model/parse.js";
import { describe, type ServiceRead } from "./reader.js";

/** docker's default capability set: what a compose service without cap_add/cap_drop holds. */
export const DOCKER_CAPABILITIES = [
  "CAP_AUDIT_WRITE", "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FOWNER", "CAP_FSETID", "CAP_KILL",
  "CAP_MKNOD", "CAP_NET_BIND_SERVICE", "CAP_NET_RAW", "CAP_SETFCAP", "CAP_SETGID", "CAP_SETPCAP",
  "CAP_SETUID", "CAP_SYS_CHROOT",
]; // prettier-ignore

export function capabilities({ s, at, r, c }: ServiceRead): void {
  const read = (k: string) => {
    const v = s[k];
    if (v === undefined) return [];
    return r.strings(v, [...at, k]).flatMap((name, i) => {
      if (name.toUpperCase() === "ALL") return ["ALL"];
      const p = parseCapability(name);
      if (!p.ok) r.problem([...at, k, i], p.error);
      return p.ok ? [p.value] : [];
    });
  };
  const add = read("cap_add");
  const drop = read("cap_drop");
  if (add.includes("ALL")) r.warn([...at, "cap_add"], "ALL is not imported; name each capability");
  // compose means docker's set with cap_add and cap_drop applied; railyard's image containers
  // start from podman's, so the config names the difference (MKNOD, NET_RAW, AUDIT_WRITE).
  const wanted = new Set(drop.includes("ALL") ? [] : DOCKER_CAPABILITIES);
  for (const cap of drop) wanted.delete(cap);
  for (const cap of add) if (cap !== "ALL") wanted.add(cap);
  const caps: Record<string, boolean> = {};
  for (const cap of new Set([...IMAGE_CAPABILITIES, ...wanted]))
    if (wanted.has(cap) !== IMAGE_CAPABILITIES.includes(cap))
      caps[cap.replace(/^CAP_/, "")] = wanted.has(cap);
  if (Object.keys(caps).length > 0)
    c.capabilities = Object.fromEntries(Object.entries(caps).sort(([a], [b]) => (a < b ? -1 : 1)));
}

/** compose's sysctls: a map, or a list of "name=value". */
export function sysctls({ s, at, r, c }: ServiceRead): void {
  const v = s["sysctls"];
  const path = [...at, "sysctls"];
  if (v === undefined) return;
  const out: Record<string, string> = {};
  if (Array.isArray(v))
    r.strings(v, path).forEach((item, i) => {
      const eq = item.indexOf("=");
      if (eq <= 0) r.problem([...path, i], `${JSON.stringify(item)} is not "name=value"`);
      else out[item.slice(0, eq).trim()] = item.slice(eq + 1).trim();
    });
  else if (isRecord(v))
    for (const [k, x] of Object.entries(v))
      if (typeof x === "string" || typeof x === "number") out[k] = String(x);
      else r.problem([...path, k], `expected a string or a number, got ${describe(x)}`);
  else return r.problem(path, `expected a map or a list, got ${describe(v)}`);
  if (Object.keys(out).length > 0) c.sysctls = out;
}
