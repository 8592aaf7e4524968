/**
 * `railyard events [--since TIME] [-f]`: what happened to the services, as `docker events` lists
 * it: starts, stops, deaths, scheduled restarts, failures, failing healthchecks, and the
 * switches, rollbacks and updates that railyard itself writes to the journal. Read from the
 * journal by message id (indexed, so fast on a big journal); nothing is kept of its own.
 */
import { spawn } from "node:child_process";
import { createInterface } from "node:readline";
import type { ResolvedConfig } from "../model/types.js";
import { UsageError } from "../errors.js";
import { loadFor, type Command } from "./context.js";
import { journalIdentifier } from "../generations/events.js";

/** systemd's catalog ids (systemd.catalog) of the unit events shown, and their names here. */
export const UNIT_EVENTS: Readonly<Record<string, string>> = {
  "39f53479d3a045ac8e11786248231fbf": "start",
  be02cf6855d2428ba40df7e9d022f03d: "start-failed",
  "9d1aaa27d60140bd96365438aad20286": "stop",
  "98e322203f7a4ed290d09fe03c09fe15": "die",
  "5eb03494b6584870a536b337290809b3": "restart",
  d9b373ed55a64feb8242e02dbe79a49c: "failed",
};

export interface ServiceEvent {
  readonly time: string;
  readonly event: string;
  /** The service, or null for a switch, rollback or update. */
  readonly service: string | null;
  readonly detail: string;
}

/** One journal entry (journalctl -o json) as an event, if it is one of ours. Pure. */
export function toEvent(
  e: Readonly<Record<string, unknown>>,
  units: ReadonlyMap<string, string>,
  railyardIdent = "railyard",
): ServiceEvent | undefined {
  const str = (k: string) => (typeof e[k] === "string" ? (e[k] as string) : undefined);
  const us = Number(str("__REALTIME_TIMESTAMP") ?? 0);
  const time = new Date(us / 1000).toISOString();
  const message = str("MESSAGE") ?? "";
  const ident = str("SYSLOG_IDENTIFIER");
  if (ident === railyardIdent) {
    const [verb = "switch"] = message.split(" ");
    return { time, event: verb, service: null, detail: message.slice(verb.length + 1) };
  }
  if (ident?.endsWith("-health")) {
    const service = ident.slice(0, -"-health".length);
    const detail = message.replace(`${service}: `, "");
    // The check unit's lines (systemd/unit.ts): a failed check, a restart, a recovery.
    const event = /failed checks in a row/.test(message)
      ? "health-restart"
      : /check failed/.test(message)
        ? "unhealthy"
        : /healthy again/.test(message)
          ? "healthy"
          : undefined;
    return event ? { time, event, service, detail } : undefined;
  }
  const kind = UNIT_EVENTS[str("MESSAGE_ID") ?? ""];
  const unit = str("UNIT") ?? str("USER_UNIT");
  const service = unit !== undefined ? units.get(unit) : undefined;
  if (!kind || service === undefined) return undefined;
  // Every process of a unit reports its exit; a death is its main process's.
  if (kind === "die" && !/Main process exited/.test(message)) return undefined;
  const detail =
    kind === "die"
      ? `${str("EXIT_CODE") ?? "exited"}, status ${str("EXIT_STATUS") ?? "?"}`
      : kind === "failed" || kind === "start-failed"
        ? message.replace(/^[^:]*: /, "")
        : "";
  return { time, event: kind, service, detail };
}

/** journalctl's matches: our unit events from the (system or user) manager, or our own lines. */
export function eventMatches(config: ResolvedConfig): string[] {
  const who = config.rootless
    ? [`_UID=${config.rootless.uid}`, `_SYSTEMD_UNIT=user@${config.rootless.uid}.service`]
    : ["_PID=1"];
  const owner = config.rootless ? [`_UID=${config.rootless.uid}`] : [];
  return [
    ...Object.keys(UNIT_EVENTS).map((id) => `MESSAGE_ID=${id}`),
    ...who,
    "+",
    `SYSLOG_IDENTIFIER=${journalIdentifier(config)}`,
    ...Object.keys(config.containers).map((n) => `SYSLOG_IDENTIFIER=${n}-health`),
    ...owner,
  ];
}

export const eventsCommand: Command = {
  name: "events",
  summary: "starts, stops, deaths, restarts, health failures, switches (docker events)",
  usage: "railyard events [--since TIME] [-f]",
  help: `Lists what happened to the services of this config, oldest first: start, stop, die (the
main process exited, with its status), restart (systemd scheduled one), failed, start-failed,
unhealthy (a healthcheck failed), healthy (it passed again), health-restart (retries failed in a
row), and switch, rollback and update with what they changed.
Read from the journal, since this boot unless --since says otherwise; --json gives one JSON
object per line.

  --since TIME   as journalctl takes it: "2026-12-01 10:00", "-1h", "today", ...
  -f, --follow   keep printing events as they happen (docker events)`,
  flags: { long: { since: true, follow: false }, short: { f: "follow" } },
  async run(ctx) {
    const config = await loadFor(ctx, "events");
    const { currentGeneration, readManifest } = await import("../generations/store.js");
    // Units of every container of the config, and of the current generation, by service name.
    const units = new Map<string, string>();
    for (const c of Object.values(config.containers)) units.set(c.serviceName, c.name);
    const gen = currentGeneration(config.stateDir);
    if (gen !== undefined)
      for (const [n, s] of Object.entries(readManifest(config.stateDir, gen).services))
        units.set(s.unit, n);
    const since = ctx.args.flags["since"];
    if (since === "") throw new UsageError("--since needs a time");
    const args = [
      "-o",
      "json",
      "--no-pager",
      ...(typeof since === "string" ? ["--since", since] : ["-b"]),
      ...(ctx.args.flags["follow"] === true ? ["-f"] : []),
      ...eventMatches(config),
    ];
    ctx.debug(`journalctl ${args.join(" ")}`);
    return new Promise((resolve) => {
      const child = spawn("journalctl", args, { stdio: ["ignore", "pipe", "pipe"] });
      let err = "";
      child.stderr.on("data", (b: Buffer) => (err += b.toString()));
      const lines = createInterface({ input: child.stdout });
      lines.on("line", (l) => {
        let entry: Record<string, unknown>;
        try {
          entry = JSON.parse(l) as Record<string, unknown>;
        } catch {
          return;
        }
        const ev = toEvent(entry, units, journalIdentifier(config));
        if (!ev) return;
        if (ctx.args.globals.json) ctx.out(JSON.stringify(ev));
        else
          ctx.out(
            `${ev.time}  ${ev.event.padEnd(12)} ${ev.service ?? "-"}${ev.detail ? `  ${ev.detail}` : ""}`,
          );
      });
      process.once("SIGINT", () => child.kill("SIGTERM"));
      child.on("error", () => resolve(127));
      child.on("close", (code) => {
        if (code !== 0 && code !== null && err.trim())
          ctx.info(`journalctl: ${err.trim().split("\n").slice(-1)[0]}`);
        resolve(code === 0 || code === null ? 0 : 1);
      });
    });
  },
};
