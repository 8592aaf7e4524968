/**
 * What differs between two generations (or a generation and the config on disk), per service
 * and per field, in words a user checks before a switch. Environment values are compared but
 * never shown: a change says only which keys were added, removed or changed. Pure.
 */
import { effectiveCapabilities } from "../model/capabilities.js";
import { formatPorts } from "../model/parse.js";
import { attachmentsOf } from "../model/network.js";
import type { ResolvedContainer } from "../model/types.js";
import type { ServiceEntry } from "./manifest.js";

/** One service as one side runs it. */
export interface ServiceSnapshot {
  readonly entry: ServiceEntry;
  /** The resolved container (absent when a generation's config could not be read). */
  readonly container?: ResolvedContainer;
  /** The process environment it starts with (values only compared, never shown). */
  readonly env: Readonly<Record<string, string>>;
}

/** One field that differs: a set change (added/removed/changed items) or a value change. */
export interface FieldChange {
  readonly field: string;
  readonly added?: readonly string[];
  readonly removed?: readonly string[];
  /** Items present on both sides whose value changed (environment keys: values never shown). */
  readonly changed?: readonly string[];
  readonly from?: string;
  readonly to?: string;
}

export interface ServiceDiff {
  readonly name: string;
  readonly status: "added" | "removed" | "changed";
  /** The switch would restart it (its unit or bundle differs). */
  readonly restarts: boolean;
  readonly changes: readonly FieldChange[];
}

const short = (digest: string | undefined) => (digest ? digest.slice(0, 19) : "(none)");
const show = (v: unknown): string =>
  v === undefined ? "(default)" : typeof v === "string" ? v : JSON.stringify(v);

function setChange(field: string, a: readonly string[], b: readonly string[]): FieldChange[] {
  const A = new Set(a);
  const B = new Set(b);
  const added = b.filter((x) => !A.has(x));
  const removed = a.filter((x) => !B.has(x));
  return added.length + removed.length > 0
    ? [
        {
          field,
          ...(added.length ? { added } : {}),
          ...(removed.length ? { removed } : {}),
        },
      ]
    : [];
}

function envChange(a: Readonly<Record<string, string>>, b: Readonly<Record<string, string>>) {
  const keys = (r: Readonly<Record<string, string>>) => Object.keys(r).sort();
  const added = keys(b).filter((k) => !(k in a));
  const removed = keys(a).filter((k) => !(k in b));
  const changed = keys(b).filter((k) => k in a && a[k] !== b[k]);
  return added.length + removed.length + changed.length > 0
    ? [
        {
          field: "environment",
          ...(added.length ? { added } : {}),
          ...(removed.length ? { removed } : {}),
          ...(changed.length ? { changed } : {}),
        },
      ]
    : [];
}

/** Fields compared on their own terms; the rest of a container's fields are compared as values. */
const SPECIAL = new Set([
  "name",
  "image",
  "environment",
  "environmentFiles",
  "mounts",
  "ports",
  "capabilities",
  "serviceName",
  "networks",
]);

const isEmpty = (v: unknown): boolean =>
  v === undefined ||
  (Array.isArray(v) && v.length === 0) ||
  (typeof v === "object" && v !== null && Object.keys(v).length === 0);

const mountLine = (m: ResolvedContainer["mounts"][number]) =>
  `${m.destination} (${m.type} ${m.source}${m.options.length ? ` ${m.options.join(",")}` : ""})`;

/**
 * A container's named networks, each with its aliases. A generation built before containers had
 * `networks` says it with `network` alone, and means the same.
 */
function networkLines(c: ResolvedContainer): string[] {
  return attachmentsOf(c).map((n) =>
    n.aliases.length ? `${n.name} (aliases ${n.aliases.join(", ")})` : n.name,
  );
}

function containerChanges(a: ResolvedContainer, b: ResolvedContainer): FieldChange[] {
  const out: FieldChange[] = [];
  if (a.image?.ref !== b.image?.ref)
    out.push({
      field: "image",
      from: a.image?.ref ?? "(host program)",
      to: b.image?.ref ?? "(host program)",
    });
  out.push(...setChange("mounts", a.mounts.map(mountLine), b.mounts.map(mountLine)));
  out.push(...setChange("ports", formatPorts(a.ports), formatPorts(b.ports)));
  out.push(...setChange("networks", networkLines(a), networkLines(b)));
  out.push(...setChange("capabilities", effectiveCapabilities(a), effectiveCapabilities(b)));
  out.push(...setChange("environmentFiles", a.environmentFiles, b.environmentFiles));
  const keys = [...new Set([...Object.keys(a), ...Object.keys(b)])].filter((k) => !SPECIAL.has(k));
  for (const k of keys.sort()) {
    const x = (a as unknown as Record<string, unknown>)[k];
    const y = (b as unknown as Record<string, unknown>)[k];
    // A generation built before a key existed lacks it where a newer one has it empty.
    if (isEmpty(x) && isEmpty(y)) continue;
    if (JSON.stringify(x) !== JSON.stringify(y)) out.push({ field: k, from: show(x), to: show(y) });
  }
  return out;
}

/** How `a` (the running or older side) becomes `b`. */
export function diffServices(
  a: Readonly<Record<string, ServiceSnapshot>>,
  b: Readonly<Record<string, ServiceSnapshot>>,
): ServiceDiff[] {
  const names = [...new Set([...Object.keys(a), ...Object.keys(b)])].sort();
  const out: ServiceDiff[] = [];
  for (const name of names) {
    const x = a[name];
    const y = b[name];
    if (!x || !y) {
      out.push({ name, status: x ? "removed" : "added", restarts: false, changes: [] });
      continue;
    }
    const restarts =
      x.entry.unitHash !== y.entry.unitHash ||
      x.entry.fingerprint !== y.entry.fingerprint ||
      x.entry.unit !== y.entry.unit;
    const changes: FieldChange[] = [];
    if (x.entry.image !== y.entry.image)
      changes.push({ field: "digest", from: short(x.entry.image), to: short(y.entry.image) });
    changes.push(...envChange(x.env, y.env));
    if (x.container && y.container) changes.push(...containerChanges(x.container, y.container));
    if (restarts && changes.length === 0)
      changes.push({
        field: x.entry.fingerprint !== y.entry.fingerprint ? "rootfs" : "unit",
        from: "",
        to: "rebuilt (host files, the runtime or railyard itself changed)",
      });
    if (changes.length > 0) out.push({ name, status: "changed", restarts, changes });
  }
  return out;
}

/**
 * Mark the services whose secrets or environmentFiles values changed since they started (values
 * read at start, so no bundle shows it): the switch restarts them, their config changed or not.
 */
export function withRotated(
  diffs: readonly ServiceDiff[],
  rotated: readonly string[],
): ServiceDiff[] {
  const change: FieldChange = {
    field: "start values",
    to: "a secret or environmentFiles value changed since it started",
  };
  const out = diffs.map((d) =>
    rotated.includes(d.name) && d.status === "changed"
      ? { ...d, restarts: true, changes: [...d.changes, change] }
      : d,
  );
  for (const name of rotated)
    if (!diffs.some((d) => d.name === name))
      out.push({ name, status: "changed", restarts: true, changes: [change] });
  return out.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

/** The diff as the CLI prints it: a block per service, a line per field. */
export function formatDiff(diffs: readonly ServiceDiff[]): string[] {
  const lines: string[] = [];
  for (const d of diffs) {
    lines.push(
      d.status === "changed"
        ? `${d.name}${d.restarts ? " (restarts)" : ""}`
        : `${d.name} (${d.status})`,
    );
    for (const c of d.changes) {
      const parts = [
        ...(c.added ?? []).map((x) => `+${x}`),
        ...(c.removed ?? []).map((x) => `-${x}`),
        ...(c.changed ?? []).map((x) => `~${x}`),
      ];
      const value =
        parts.length > 0 ? parts.join("  ") : c.from ? `${c.from} → ${c.to}` : `${c.to}`;
      lines.push(`  ${c.field.padEnd(16)} ${value}`);
    }
  }
  return lines;
}
