/**
 * A host program's settings from what the host says of it as a Debian service (`service`, see
 * model/host-service.ts): each key the config leaves unset takes the unit's or the packages'
 * value, in the config's own terms, so the usual checks apply to it; `took` says what came from
 * where. A key the config sets always wins. Pure.
 */
import type { FromHost, HostService, HostWritable } from "../../model/host-service.js";
import type { ContainerConfig } from "../../model/types.js";
import type { Report } from "./context.js";

type Took = FromHost["took"][number];

/**
 * What a root daemon needs to start its workers as another user and hand them their
 * directories (nginx's master, lighttpd): the unit runs it as root and bounds nothing, so
 * under systemd it would hold every capability; railyard gives it these and no more.
 */
export const DROP_TO_USER = ["SETUID", "SETGID", "CHOWN"] as const;

export function withHostService(
  c: ContainerConfig,
  h: HostService,
  r: Report,
): { config: ContainerConfig; fromHost: FromHost } {
  const took: Took[] = [];
  const out: ContainerConfig = { ...c };
  const unit = h.unit?.split("/").at(-1) ?? "";
  const take = <K extends keyof ContainerConfig>(
    key: K,
    value: ContainerConfig[K],
    shown: string,
    from: string,
  ) => {
    out[key] = value;
    took.push({ key, value: shown, from });
  };

  if (c.args === undefined && h.execStart) {
    const argv = h.foreground?.argv ?? h.execStart;
    if (h.type === "forking" && !h.foreground)
      r(
        ["service"],
        `${unit} runs ${h.execStart[0]} in the background (Type=forking), and railyard knows no switch that keeps it in the foreground. give args that do`,
      );
    else
      take(
        "args",
        [...argv],
        JSON.stringify(argv),
        `${unit} ExecStart=${h.foreground ? ` (${h.foreground.change})` : ""}`,
      );
  }
  if (c.user === undefined && h.user !== undefined) {
    const spec = h.group !== undefined ? `${h.user}:${h.group}` : h.user;
    take("user", spec, spec, `${unit} User=${h.group !== undefined ? ", Group=" : ""}`);
  } else if (c.user === undefined && h.stateOwner) {
    const spec = `${h.stateOwner.uid}:${h.stateOwner.gid}`;
    take("user", spec, spec, h.stateOwner.from);
  }
  if (c.stopSignal === undefined && h.stopSignal)
    take("stopSignal", h.stopSignal.signal, h.stopSignal.signal, h.stopSignal.from);

  const caps = capabilitiesFrom(h, unit);
  const given = c.capabilities ?? {};
  const added = caps.names.filter((n) => given[n] === undefined);
  if (added.length > 0) {
    out.capabilities = { ...given, ...Object.fromEntries(added.map((n) => [n, true])) };
    took.push({ key: "capabilities", value: added.join(" "), from: caps.from });
  }

  const env = Object.entries(h.environment).filter(([k]) => c.environment?.[k] === undefined);
  if (env.length > 0) {
    out.environment = { ...Object.fromEntries(env), ...(c.environment ?? {}) };
    for (const [k, v] of env)
      took.push({ key: `environment.${k}`, value: v, from: `${unit} Environment=` });
  }
  if (c.environmentFiles === undefined && h.environmentFiles.length > 0)
    take(
      "environmentFiles",
      [...h.environmentFiles],
      h.environmentFiles.join(" "),
      `${unit} EnvironmentFile=`,
    );

  const excluded = (p: string) => (c.exclude ?? []).some((x) => p === x || p.startsWith(`${x}/`));
  const made = h.made.filter((m) => !excluded(m.path) && !(c.include ?? []).includes(m.path));
  if (made.length > 0) {
    out.include = [...(c.include ?? []), ...made.map((m) => m.path)];
    for (const m of made) took.push({ key: "include", value: m.path, from: m.from });
  }
  const writable = h.writable.filter((w) => !excluded(w.path));
  for (const w of writable)
    took.push({ key: w.kind === "tmpfs" ? "tmpfs" : "volumes", value: w.path, from: w.from });
  return {
    config: out,
    fromHost: {
      packages: h.packages,
      ...(h.unit !== undefined ? { unit: h.unit } : {}),
      took,
      writable,
    },
  };
}

/** The capabilities the unit gives its program, and which setting says so. */
function capabilitiesFrom(h: HostService, unit: string): { names: string[]; from: string } {
  if (h.unit === undefined) return { names: [], from: "" };
  if (h.user !== undefined && h.user !== "root")
    return { names: [...h.ambientCapabilities], from: `${unit} AmbientCapabilities=` };
  if (h.boundingSet !== undefined)
    return { names: [...h.boundingSet], from: `${unit} CapabilityBoundingSet= (it runs as root)` };
  // Its directories given to its workers' user and closed to others (lighttpd's 0750
  // /var/cache/lighttpd of www-data): the root master reaches into them, as root under systemd.
  // An owner unnamed is root's, as the bundle makes it.
  const rootOwns = (w: HostWritable) =>
    w.uid !== undefined ? w.uid === 0 : w.user === undefined || w.user === "root";
  const closed = h.writable.filter((w) => !rootOwns(w) && (w.mode & 0o001) === 0);
  return {
    names: [...DROP_TO_USER, ...(closed.length > 0 ? ["DAC_READ_SEARCH"] : [])],
    from: `${unit} runs it as root and bounds no capability: what a root daemon needs to start its workers as another user${closed.length > 0 ? `, and to reach ${closed[0]?.path}, which only that user may enter` : ""}`,
  };
}
