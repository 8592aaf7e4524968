import { existsSync, mkdirSync, readFileSync, realpathSync, rmSync } from "node:fs";
import { join, resolve } from "node:path";
import type { ResolvedConfig } from "../model/types.js";
import { UsageError } from "../errors.js";
import { writeFileAtomic } from "../util/atomic.js";
import { loadFor, type Command, type CommandContext } from "./context.js";
import { stderrProgress } from "./progress.js";
import { report, settleMs, switchIo } from "./switch-report.js";

/** What an update uses, loaded only when one runs (main.ts loads every command's file). */
async function updateModules() {
  const [switchLib, activation, build, manifest, store, detect, systemctl, secrets, snapshots] =
    await Promise.all([
      import("../generations/switch.js"),
      import("../generations/activate.js"),
      import("../generations/build.js"),
      import("../generations/manifest.js"),
      import("../generations/store.js"),
      import("../host/detect.js"),
      import("../systemd/systemctl.js"),
      import("../generations/secret-digests.js"),
      import("../generations/snapshots.js"),
    ]);
  return {
    ...switchLib,
    ...activation,
    ...build,
    ...manifest,
    ...store,
    ...detect,
    ...systemctl,
    ...secrets,
    ...snapshots,
  };
}

/** One image the update looked at. */
interface ImageRow {
  readonly container: string;
  readonly ref: string;
  readonly from: string | null;
  readonly to: string;
}

/**
 * railyard.lock as it was, to put back when the update does not happen (dry run, nothing to
 * switch, a failure rolled back): the lock keeps naming what the host runs.
 */
function saveLock(path: string): () => void {
  const saved = existsSync(path) ? readFileSync(path) : undefined;
  return () => (saved ? writeFileAtomic(path, saved) : rmSync(path, { force: true }));
}

/** The command the timer's service runs: this railyard, this config, absolute paths. */
function updateArgv(ctx: CommandContext, config: ResolvedConfig): string[] {
  const script = realpathSync(process.argv[1] ?? "");
  return [
    process.execPath,
    script,
    ...(ctx.args.globals.user ? ["--user"] : []),
    "--config",
    config.file,
    ...(ctx.args.globals.stateDir !== undefined
      ? ["--state-dir", resolve(ctx.cwd, ctx.args.globals.stateDir)]
      : []),
    "update",
  ];
}

/** Where the manager reads units (the user's, rootless); RAILYARD_UNIT_DIR overrides it, as for switch. */
const unitDir = (ctx: CommandContext, config: ResolvedConfig, systemDir: string): string =>
  ctx.env["RAILYARD_UNIT_DIR"] ?? config.rootless?.unitDir ?? systemDir;

async function installTimer(ctx: CommandContext, config: ResolvedConfig): Promise<number> {
  const [{ renderUpdateUnits, updateUnitNames, DEFAULT_ON_CALENDAR }, systemd, { exec }, install] =
    await Promise.all([
      import("../systemd/timer.js"),
      import("../systemd/systemctl.js"),
      import("../util/exec.js"),
      import("../systemd/install.js"),
    ]);
  systemd.requireSystemd("railyard update --install-timer", config.rootless);
  const cal = ctx.args.flags["on-calendar"];
  const onCalendar = typeof cal === "string" ? cal : DEFAULT_ON_CALENDAR;
  // systemd's own parser decides what a calendar spec is; its message names the problem.
  const check = await exec("systemd-analyze", ["calendar", onCalendar]);
  if (check.code !== 0)
    throw new UsageError(
      `--on-calendar ${JSON.stringify(onCalendar)} is not a systemd calendar spec (see man systemd.time): ${check.stderr.trim()}`,
    );
  const dir = unitDir(ctx, config, install.DEFAULT_UNIT_DIR);
  mkdirSync(dir, { recursive: true });
  const units = renderUpdateUnits({
    argv: updateArgv(ctx, config),
    onCalendar,
    ...(config.rootless ? { rootless: config.rootless } : {}),
    ...(config.idScope ? { idScope: config.idScope } : {}),
  });
  const { timer } = updateUnitNames(config.idScope);
  for (const [name, text] of Object.entries(units)) writeFileAtomic(join(dir, name), text);
  const systemctl = new systemd.Systemctl(undefined, config.rootless);
  await systemctl.call(["daemon-reload"]);
  await systemctl.call(["enable", "--now", timer]);
  const next = await systemctl.show([timer], ["NextElapseUSecRealtime"]);
  if (ctx.args.globals.json)
    ctx.out(
      JSON.stringify(
        { installed: Object.keys(units).map((u) => join(dir, u)), onCalendar },
        null,
        2,
      ),
    );
  else {
    ctx.out(
      `installed ${Object.keys(units).join(" and ")} in ${dir} (OnCalendar=${onCalendar}, up to 1 h later)`,
    );
    const at = next[0]?.["NextElapseUSecRealtime"];
    if (at) ctx.out(`next run: ${at}`);
  }
  return 0;
}

async function removeTimer(ctx: CommandContext, config: ResolvedConfig): Promise<number> {
  const [{ updateUnitNames }, systemd, install] = await Promise.all([
    import("../systemd/timer.js"),
    import("../systemd/systemctl.js"),
    import("../systemd/install.js"),
  ]);
  systemd.requireSystemd("railyard update --remove-timer", config.rootless);
  const dir = unitDir(ctx, config, install.DEFAULT_UNIT_DIR);
  const systemctl = new systemd.Systemctl(undefined, config.rootless);
  const { service, timer } = updateUnitNames(config.idScope);
  const present = [timer, service].filter((u) => existsSync(join(dir, u)));
  if (present.length === 0) {
    ctx.out(`no update timer installed in ${dir}`);
    return 0;
  }
  await systemctl.tryCall(["disable", "--now", timer]);
  for (const u of present) rmSync(join(dir, u), { force: true });
  await systemctl.call(["daemon-reload"]);
  ctx.out(`removed ${present.join(" and ")} from ${dir}`);
  return 0;
}

export const updateCommand: Command = {
  name: "update",
  summary: "newer images behind the config's tags: pull, build, switch, roll back if they fail",
  usage:
    "railyard update [--dry-run] [--settle SECS] | --install-timer [--on-calendar SPEC] | --remove-timer",
  help: `Re-resolves the tag of every image (as railyard lock --update does), and when a digest is
new, builds a generation with it and switches to it as switch does: when a service does not
settle, the switch goes back to the generation the host ran, marks the new one failed, runs
onFailure and exits 1; railyard.lock is then put back, so it keeps naming what runs. A set of
digests that failed before is not tried again. With nothing new it changes nothing and says so.

Never changed: images pinned by digest (image@sha256:...), pull: "never", and imageFile.

  --dry-run             say which images are new and what the switch would do, change nothing
  --settle SECS         how long every started service must stay up (as for switch)
  --install-timer       install and start railyard-update.timer, which runs railyard update
                        for this config (randomised by up to 1 h, caught up after downtime);
                        a state dir other than the default has its own, with its id scope
                        in the name: railyard-update-SCOPE.timer
  --on-calendar SPEC    when the timer runs, a systemd calendar spec (default: daily)
  --remove-timer        stop and remove the timer and its service`,
  flags: {
    long: {
      "dry-run": false,
      settle: true,
      "install-timer": false,
      "on-calendar": true,
      "remove-timer": false,
    },
  },
  async run(ctx) {
    const f = ctx.args.flags;
    if (f["install-timer"] && f["remove-timer"])
      throw new UsageError("--install-timer and --remove-timer cannot be combined");
    if (f["on-calendar"] !== undefined && !f["install-timer"])
      throw new UsageError("--on-calendar goes with --install-timer");
    const [config, m] = await Promise.all([loadFor(ctx, "update"), updateModules()]);
    if (f["install-timer"]) return installTimer(ctx, config);
    if (f["remove-timer"]) return removeTimer(ctx, config);
    const dryRun = f["dry-run"] === true;
    const settle = settleMs(ctx);
    m.readSecretValues(config); // a missing secret file is a config error before anything happens
    if (!dryRun) m.requireSystemd("railyard update", config.rootless);
    const { lockPathFor } = await import("../image/lock.js");
    const runtime = m.chooseRuntime(config.runtime, m.hostProbe(ctx.env));
    const onEvent = stderrProgress({ json: false, out: ctx.info });
    const lockPath = lockPathFor(config.file);
    return m.withSwitchLock(config.stateDir, () =>
      updateLocked(ctx, config, m, { dryRun, settle, runtime, onEvent, lockPath }),
    );
  },
};

type UpdateModules = Awaited<ReturnType<typeof updateModules>>;

/**
 * The update itself, under the state dir's lock: newer digests behind the tags, a generation
 * with them, and a switch that goes back (and puts railyard.lock back) if they fail.
 */
async function updateLocked(
  ctx: CommandContext,
  config: ResolvedConfig,
  m: UpdateModules,
  o: {
    dryRun: boolean;
    settle: number | undefined;
    runtime: ReturnType<UpdateModules["chooseRuntime"]>;
    onEvent: ReturnType<typeof stderrProgress>;
    lockPath: string;
  },
): Promise<number> {
  const { dryRun, settle, runtime, lockPath } = o;
  const { readLock } = await import("../image/lock.js");
  const restoreLock = saveLock(lockPath);
  const before = readLock(lockPath).images;
  const rows = await newDigests(ctx, config, before, o.onEvent);
  const fresh = rows.filter((r) => r.from !== r.to);
  const out = (doc: Record<string, unknown>, lines: string[]) => {
    if (ctx.args.globals.json) ctx.out(JSON.stringify({ images: rows, ...doc }, null, 2));
    else for (const l of lines) ctx.out(l);
  };
  const imageLines = fresh.map(
    (r) =>
      `  ${r.container}: ${r.ref}  ${r.from?.slice(0, 19) ?? "(not locked)"} → ${r.to.slice(0, 19)}`,
  );
  if (fresh.length === 0) {
    restoreLock();
    out({ updated: false }, [
      `nothing new: ${rows.length} image${rows.length === 1 ? "" : "s"} checked, each as locked`,
    ]);
    return 0;
  }
  const g = await m.buildGeneration(config, runtime, {
    log: ctx.debug,
    warn: ctx.info,
    env: ctx.env,
    write: !dryRun,
  });
  if (dryRun) {
    restoreLock();
    const { formatDiff } = await import("../generations/diff.js");
    const diff = await m.diffFromCurrent(
      config,
      g,
      m.startValues(config, { dryRun: true }).rotated,
    );
    out({ updated: false, dryRun: true, diff }, [
      "new images (dry run: nothing pulled into the lock, nothing switched):",
      ...imageLines,
      ...(diff.length > 0 ? ["what changes:", ...formatDiff(diff).map((l) => `  ${l}`)] : []),
    ]);
    return 0;
  }
  // These digests failed before: trying them again would only take the services down again.
  const twin = m
    .listGenerations(config.stateDir)
    .find(
      (n) =>
        m.readFailed(config.stateDir, n) &&
        m.sameContent(m.readManifest(config.stateDir, n), g.manifest),
    );
  if (twin !== undefined) {
    restoreLock();
    const mark = m.readFailed(config.stateDir, twin);
    out({ updated: false, failedBefore: twin }, [
      ...imageLines.map((l) => l.replace(/^ {2}/, "  new: ")),
      `generation ${twin} had these images and failed at ${mark?.at} (${mark?.reason}); not switching. it is tried again when a newer digest appears`,
    ]);
    return 0;
  }
  if (!ctx.args.globals.json) {
    ctx.out("new images:");
    for (const l of imageLines) ctx.out(l);
  }
  const io = switchIo(ctx);
  const r = await m.activateGeneration(io, config, g.generation, {
    dryRun: false,
    settle,
    rollback: true,
    mark: true,
  });
  if (r.reason !== undefined) {
    restoreLock();
    await m.runOnFailure(io, config, {
      event: "update-failed",
      generation: r.to,
      services: r.failedServices ?? [],
      reason: r.reason,
    });
  }
  if (ctx.args.globals.json) {
    ctx.out(JSON.stringify({ images: rows, updated: r.reason === undefined, switch: r }, null, 2));
    return r.reason !== undefined ? 1 : 0;
  }
  return report(ctx, r, false);
}

/** Each tag's digest in the registry now, against what the lock had. */
async function newDigests(
  ctx: CommandContext,
  config: ResolvedConfig,
  before: Readonly<Record<string, { digest: string }>>,
  onEvent: ReturnType<typeof stderrProgress>,
): Promise<ImageRow[]> {
  const { acquireImage } = await import("../image/acquire.js");
  const rows: ImageRow[] = [];
  for (const c of Object.values(config.containers)) {
    const img = c.image;
    if (!img || img.file || img.ref.includes("@") || img.pull === "never") continue;
    const got = await acquireImage(config, c, {
      env: ctx.env,
      onEvent,
      log: ctx.debug,
      update: true,
    });
    rows.push({
      container: c.name,
      ref: img.ref,
      from: before[img.ref]?.digest ?? null,
      to: got.digest,
    });
  }
  return rows;
}
