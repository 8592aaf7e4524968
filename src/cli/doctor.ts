import { userInfo } from "node:os";
import { UsageError } from "../errors.js";
import { loadFor, type Command } from "./context.js";

export const doctorCommand: Command = {
  name: "doctor",
  summary: "check what this host needs (runtime, systemd, cgroups; --rootless: a user's setup)",
  usage:
    "railyard doctor [--rootless [--for USER]]   (railyard --user doctor: --rootless for yourself)",
  help: `Checks what railyard needs on this host and prints a fix for each check that fails:
the OCI runtime it would choose (and why), systemd as the init system, the cgroup layout, the
network tools, and the CDI devices whose specs are in /etc/cdi and /var/run/cdi (with --config,
in the config's cdiSpecDirs).

  --rootless      also check what a non-root user needs to run containers: 65536 subordinate
                  uids and gids, newuidmap/newgidmap, user namespaces, lingering (so that the
                  user's systemd outlives the login) and the cgroup controllers delegated to it
  --for USER      the user to check (default: the one running railyard, or $SUDO_USER under sudo)

Exits 1 when a check that railyard cannot do without fails; warnings do not change the exit
code. With --json, prints the checks as a list.`,
  flags: { long: { rootless: false, for: true } },
  async run(ctx) {
    if (ctx.args.positionals.length > 0) throw new UsageError(`usage: ${this.usage}`);
    // `railyard --user doctor` checks the rootless setup of whoever runs it.
    const rootless = ctx.args.flags["rootless"] === true || ctx.args.globals.user;
    const forUser = ctx.args.flags["for"];
    if (forUser !== undefined && !rootless)
      throw new UsageError(
        "--for names the user of --rootless: railyard doctor --rootless --for USER",
      );
    const me = userInfo().username;
    const user =
      typeof forUser === "string" ? forUser : me === "root" ? (ctx.env["SUDO_USER"] ?? me) : me;
    if (rootless && user === "root")
      throw new UsageError("root does not run rootless: name the user with --for USER");
    const [{ doctorFacts }, { doctorChecks }] = await Promise.all([
      import("../doctor/facts.js"),
      import("../doctor/checks.js"),
    ]);
    // CDI specs are read where the config says when one is named, else where podman reads them.
    const cdiDirs =
      ctx.args.globals.config !== undefined
        ? (await loadFor(ctx, "doctor")).cdiSpecDirs
        : undefined;
    const checks = doctorChecks(await doctorFacts(ctx.env, rootless ? user : undefined, cdiDirs));
    const failed = checks.some((c) => !c.ok && c.severity === "error");
    if (ctx.args.globals.json) ctx.out(JSON.stringify(checks, null, 2));
    else
      for (const c of checks) {
        const mark = c.ok ? "ok  " : c.severity === "error" ? "FAIL" : "warn";
        ctx.out(`${mark}  ${c.name}: ${c.detail}`);
        if (c.fix) ctx.out(`      fix: ${c.fix}`);
      }
    return failed ? 1 : 0;
  },
};
