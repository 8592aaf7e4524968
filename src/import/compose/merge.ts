/**
 * Compose's merge of several files into one model (pure), as the compose specification's merge
 * rules and docker compose do it: maps merge key by key, lists append, a later scalar wins; the
 * shell commands are replaced whole; environment, labels and the like merge by key; volumes,
 * ports and secrets stay unique by their target; `!reset` removes a value and `!override`
 * replaces one without merging.
 */
import { isRecord, own } from "../../util/record.js";

/** A value tagged `!reset`: the earlier files' value is removed. */
export const RESET: unique symbol = Symbol("!reset");

/** A value tagged `!override`: it replaces the earlier files' value instead of merging with it. */
export class Override {
  constructor(readonly value: unknown) {}
}

type Obj = Record<string, unknown>;

/** `o[k] = v` that never reaches a prototype, whatever key a file names ("__proto__"). */
const put = (o: Obj, k: string, v: unknown) =>
  Object.defineProperty(o, k, { value: v, enumerable: true, writable: true, configurable: true });

/** `KEY=value` list entries, or `host:address` for extra_hosts, as one map. */
function asMap(v: unknown, sep: RegExp): unknown {
  if (!Array.isArray(v)) return v;
  const out: Obj = {};
  for (const item of v) {
    const s = String(item);
    const m = sep.exec(s);
    if (m) put(out, s.slice(0, m.index), s.slice(m.index + 1));
    else put(out, s, null);
  }
  return out;
}

const KEY_VALUE = /=/;
/** extra_hosts: `host=address`, or `host:address` (the address may be IPv6, full of colons). */
const HOST_ADDRESS = /[=:]/;

/** depends_on and a service's networks: a list of names, as the map compose reads it as. */
function namesAsMap(v: unknown, entry: unknown): unknown {
  return Array.isArray(v) ? Object.fromEntries(v.map((n) => [String(n), entry])) : v;
}

/** The key that makes an entry of a service's volumes, ports or secrets unique. */
const UNIQUE: Record<string, (entry: unknown) => string> = {
  volumes: (e) => {
    if (isRecord(e)) return String(e["target"]);
    const parts = String(e).split(":");
    return (parts.length === 1 ? parts[0] : parts[1]) ?? "";
  },
  ports: (e) =>
    isRecord(e)
      ? `${String(e["host_ip"] ?? "")}:${String(e["published"] ?? "")}:${String(e["target"])}/${String(e["protocol"] ?? "tcp")}`
      : String(e),
  secrets: (e) =>
    isRecord(e)
      ? String(e["target"] ?? `/run/secrets/${String(e["source"])}`)
      : `/run/secrets/${String(e)}`,
  configs: (e) =>
    isRecord(e) ? String(e["target"] ?? `/${String(e["source"])}`) : `/${String(e)}`,
};

/** Lists whose entries are kept once each, the later one in the earlier one's place. */
const SETS = new Set([
  "cap_add",
  "cap_drop",
  "devices",
  "dns",
  "dns_opt",
  "dns_search",
  "env_file",
  "expose",
  "group_add",
  "profiles",
  "security_opt",
  "tmpfs",
]);

function unique(list: unknown[], key: (e: unknown) => string): unknown[] {
  const at = new Map<string, number>();
  const out: unknown[] = [];
  for (const e of list) {
    const k = key(e);
    const i = at.get(k);
    if (i === undefined) {
      at.set(k, out.length);
      out.push(e);
    } else out[i] = e;
  }
  return out;
}

/** How a service's key merges, where it is not the default. */
function serviceRule(
  key: string,
  sub: readonly string[],
): ((a: unknown, b: unknown) => unknown) | undefined {
  const byKey = (sep: RegExp) => (a: unknown, b: unknown) =>
    mergeValue(asMap(a, sep), asMap(b, sep), []);
  if (sub.length === 0) {
    if (key === "command" || key === "entrypoint") return (_a, b) => b;
    if (["environment", "labels", "sysctls", "annotations"].includes(key)) return byKey(KEY_VALUE);
    if (key === "extra_hosts") return byKey(HOST_ADDRESS);
    if (key === "depends_on")
      return (a, b) =>
        mergeValue(
          namesAsMap(a, { condition: "service_started" }),
          namesAsMap(b, { condition: "service_started" }),
          [],
        );
    if (key === "networks")
      return (a, b) => mergeValue(namesAsMap(a, null), namesAsMap(b, null), []);
    const uniqueKey = UNIQUE[key];
    if (uniqueKey)
      return (a, b) => (Array.isArray(a) && Array.isArray(b) ? unique([...a, ...b], uniqueKey) : b);
    if (SETS.has(key))
      return (a, b) =>
        Array.isArray(a) && Array.isArray(b) ? unique([...a, ...b], (e) => JSON.stringify(e)) : b;
    if (key === "logging")
      return (a, b) =>
        isRecord(a) &&
        isRecord(b) &&
        a["driver"] !== undefined &&
        b["driver"] !== undefined &&
        a["driver"] !== b["driver"]
          ? b
          : mergeValue(a, b, []);
  }
  if (key === "healthcheck" && sub[0] === "test" && sub.length === 1) return (_a, b) => b;
  if (key === "build" && sub[0] === "args" && sub.length === 1) return byKey(KEY_VALUE);
  return undefined;
}

/**
 * `over` merged onto `base`. `path` is the key path below the document's top, so that a
 * service's keys get their own rules (`services.NAME.KEY...`).
 */
export function mergeValue(earlier: unknown, over: unknown, path: readonly string[]): unknown {
  const base = earlier instanceof Override ? earlier.value : earlier;
  if (over === RESET) return RESET;
  if (over instanceof Override) return over.value;
  if (base === undefined || base === RESET) return over;
  if (path[0] === "services" && path.length >= 3) {
    const rule = serviceRule(path[2] as string, path.slice(3));
    if (rule) return rule(base, over);
  }
  if (isRecord(base) && isRecord(over)) {
    const out: Obj = {};
    for (const [k, v] of Object.entries(base)) put(out, k, v);
    for (const [k, v] of Object.entries(over))
      put(out, k, k.startsWith("x-") ? v : mergeValue(own(base, k), v, [...path, k]));
    return out;
  }
  if (Array.isArray(base) && Array.isArray(over)) return [...base, ...over];
  return over;
}

/** The merged model with its markers settled: `!reset` values removed, `!override` unwrapped. */
export function settle(v: unknown): unknown {
  if (v instanceof Override) return settle(v.value);
  if (Array.isArray(v)) return v.filter((x) => x !== RESET).map(settle);
  if (isRecord(v))
    return Object.fromEntries(
      Object.entries(v)
        .filter(([, x]) => x !== RESET)
        .map(([k, x]) => [k, settle(x)]),
    );
  return v;
}

/** Several files' models merged in order, as `docker compose -f a -f b` merges them. */
export function mergeFiles(docs: readonly unknown[]): Obj {
  const merged = docs.reduce<unknown>((a, b) => mergeValue(a, b, []), {});
  return settle(merged) as Obj;
}
