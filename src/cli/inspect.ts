/**
 * `railyard inspect NAME`: everything about one container of the current generation in one
 * place, as `docker inspect` gives it: the resolved config it runs with, its bundle, image and
 * digest, unit, network address and published ports, mounts, capabilities, seccomp, health and
 * state. Read from the generation and systemd; nothing is built.
 */
import { readOr } from "../util/read-file.js";
import { join } from "node:path";
import { formatPorts } from "../model/parse.js";
import { hasHealthcheck } from "../generations/manifest.js";
import type { ResolvedContainer } from "../model/types.js";
import { UsageError } from "../errors.js";
import { oneName } from "./select.js";
import { loadFor, type Command, type CommandContext } from "./context.js";

export const inspectCommand: Command = {
  name: "inspect",
  summary: "one container: config, bundle, image, unit, network, state (docker inspect)",
  usage: "railyard inspect NAME [--json]",
  help: `Shows one container of the current generation: the resolved config it runs with (as
railyard check --json resolves it), its bundle and fingerprint, image reference and digest, unit
name and file, network address and published ports, mounts, effective capabilities, seccomp
filter, health and state. --json prints it all as one object.`,
  flags: { long: {} },
  async run(ctx) {
    const name = oneName(ctx.args.positionals, this.usage);
    const [
      config,
      store,
      { currentServices },
      { Systemctl, systemdBooted },
      { effectiveCapabilities },
      { containerId },
      { readAllocation },
      { containerNetwork },
      { attachmentsOf },
      { healthFile, pidFile },
      { DEFAULT_UNIT_DIR },
    ] = await Promise.all([
      loadFor(ctx, "inspect"),
      import("../generations/store.js"),
      import("../generations/services.js"),
      import("../systemd/systemctl.js"),
      import("../model/capabilities.js"),
      import("../model/ids.js"),
      import("../network/files.js"),
      import("../network/script.js"),
      import("../model/network.js"),
      import("../systemd/unit.js"),
      import("../systemd/install.js"),
    ]);
    const { generation, services } = await currentServices(config, [name], false);
    const [, entry] = services[0] ?? [];
    if (!entry) throw new UsageError(`no service ${JSON.stringify(name)}`);
    // What runs: the generation's own config (the disk's may have changed since the switch).
    const running = store.readGenerationConfig(config.stateDir, generation);
    const c: ResolvedContainer | undefined = running?.containers[name] ?? config.containers[name];
    if (!c) throw new UsageError(`no container named ${JSON.stringify(name)}`);
    const dir = store.generationDir(config.stateDir, generation);
    const links = interfaces(
      c,
      () => containerNetwork(c, readAllocation(dir), running ?? config),
      attachmentsOf,
    );
    const props = ["ActiveState", "SubState", "MainPID", "NRestarts", "ActiveEnterTimestamp"];
    const state = systemdBooted()
      ? ((await new Systemctl(undefined, config.rootless).show([entry.unit], props))[0] ?? {})
      : {};
    const health = hasHealthcheck(entry)
      ? readOr(healthFile(name, config), "").trim() || undefined
      : undefined;
    const info = {
      name,
      generation,
      state: {
        active: state["ActiveState"] ?? null,
        sub: state["SubState"] ?? null,
        mainPid: Number(state["MainPID"] ?? 0),
        restarts: Number(state["NRestarts"] ?? 0),
        since: state["ActiveEnterTimestamp"] ?? null,
        health: health ?? null,
      },
      unit: {
        name: entry.unit,
        // Where activation links it (RAILYARD_UNIT_DIR is a test's override of that place).
        file: join(
          ctx.env["RAILYARD_UNIT_DIR"] ?? config.rootless?.unitDir ?? DEFAULT_UNIT_DIR,
          entry.unit,
        ),
        pidFile: c.backend === "oci" ? pidFile(c, config) : null,
      },
      runtimeId: containerId(name, config),
      backend: c.backend,
      bundle: entry.bundle ? join(config.stateDir, "bundles", entry.bundle) : null,
      fingerprint: entry.fingerprint,
      image: c.image ? { ref: c.image.ref, digest: entry.image ?? null } : null,
      network: { mode: c.network, interfaces: links, ports: formatPorts(c.ports) },
      mounts: c.mounts.map((m) => ({
        destination: m.destination,
        type: m.type,
        source: m.source,
        options: m.options,
      })),
      capabilities: effectiveCapabilities(c),
      seccomp: c.seccomp,
      config: c,
    };
    if (ctx.args.globals.json) {
      ctx.out(JSON.stringify(info, null, 2));
      return 0;
    }
    printInfo(ctx, info);
    return 0;
  },
};

/** One interface of a container: its name inside, its network, its addresses. */
interface Interface {
  interface: string;
  network: string;
  address: string;
  gateway: string;
  address6?: string;
}

/** The container's interfaces, from its generation's allocation; none for one from before it had them. */
function interfaces(
  c: ResolvedContainer,
  network: () => import("../network/script.js").ContainerNetwork | undefined,
  attachmentsOf: (c: ResolvedContainer) => readonly { name: string }[],
): Interface[] {
  try {
    const n = network();
    const names = c.network === "private" ? ["private"] : attachmentsOf(c).map((a) => a.name);
    return (n?.links ?? []).map((l, i) => ({
      interface: l.ifname,
      network: names[i] ?? c.network,
      address: `${l.address}/${l.prefix}`,
      gateway: l.gateway,
      ...(l.v6 ? { address6: `${l.v6.address}/${l.v6.prefix}` } : {}),
    }));
  } catch {
    // a generation from before this container had an address
    return [];
  }
}

/** What inspect prints without --json, one row a fact, then the mounts. */
function printInfo(
  ctx: CommandContext,
  info: {
    generation: number;
    state: {
      active: string | null;
      sub: string | null;
      mainPid: number;
      restarts: number;
      health: string | null;
    };
    unit: { name: string; file: string };
    runtimeId: string;
    backend: string;
    image: { ref: string; digest: string | null } | null;
    bundle: string | null;
    fingerprint: string;
    network: { interfaces: Interface[]; ports: string[] };
    mounts: { destination: string; type: string; source: string; options: readonly string[] }[];
    capabilities: string[];
    config: ResolvedContainer;
  },
): void {
  const c = info.config;
  const generation = info.generation;
  const links = info.network.interfaces;
  const s = info.state;
  const rows: [string, string][] = [
    ["generation", String(generation)],
    [
      "state",
      `${s.active ?? "?"}/${s.sub ?? "?"}${s.mainPid ? `, pid ${s.mainPid}` : ""}, ${s.restarts} restarts${s.health ? `, ${s.health}` : ""}`,
    ],
    ["unit", `${info.unit.name} (${info.unit.file})`],
    ["runtime id", info.runtimeId],
    ["backend", info.backend],
    [
      "image",
      info.image ? `${info.image.ref} ${info.image.digest ?? ""}`.trim() : "(host program)",
    ],
    ["bundle", info.bundle ?? "-"],
    ["fingerprint", info.fingerprint],
    ["network", c.network],
    ...links.map((l): [string, string] => [
      `  ${l.interface}`,
      `${l.address}${l.address6 ? ` and ${l.address6}` : ""} on ${l.network}, via ${l.gateway}`,
    ]),
    ["ports", info.network.ports.join(", ") || "-"],
    ["capabilities", info.capabilities.join(" ") || "(none)"],
    ["seccomp", String(c.seccomp)],
    ["user", c.user ? `${c.user.uid}:${c.user.gid}` : "(the image's)"],
    ["readonly root", String(c.readonly)],
  ];
  const w = Math.max(...rows.map(([k]) => k.length));
  for (const [k, v] of rows) ctx.out(`${k.padEnd(w)}  ${v}`);
  ctx.out("mounts");
  for (const m of info.mounts)
    ctx.out(
      `  ${m.destination}  ${m.type} ${m.source}${m.options.length ? ` (${m.options.join(",")})` : ""}`,
    );
}
