import { ConfigError, type ConfigProblem } from "../errors.js";
import { loadFor, type Command } from "./context.js";

export const checkCommand: Command = {
  name: "check",
  summary: "validate the config and print what it resolves to; changes nothing",
  usage: "railyard check",
  help: `Loads and validates the config, and reads every environmentFiles file and every secret a
container uses (a missing or unreadable one is a problem; no content is printed), and the CDI specs
when a container asks for a CDI device (a name no spec defines is a problem). Prints a summary,
or with --json the fully resolved config (every default applied). Exits 2 and lists every problem
when the config is invalid.

A host program run as its Debian service (the key service, on by default) takes settings from
its packages and their systemd unit where the config sets none: check prints each one and what
it came from (a key the config sets always wins; exclude takes an included file out).`,
  flags: { long: {} },
  async run(ctx) {
    const config = await loadFor(ctx, "check");
    // environmentFiles are config too: a missing or broken one fails check, not only build.
    const [{ readEnvFiles }, { readSecretValues }, { cdiConfigProblems }] = await Promise.all([
      import("../bundle/host.js"),
      import("../generations/secret-digests.js"),
      import("../cdi/host.js"),
    ]);
    // Every problem of every file at once, as for the config's own keys.
    const problems: ConfigProblem[] = [];
    const collect = (f: () => unknown) => {
      try {
        f();
      } catch (e) {
        if (!(e instanceof ConfigError)) throw e;
        problems.push(...e.problems);
      }
    };
    for (const c of Object.values(config.containers)) collect(() => readEnvFiles(c, config.file));
    collect(() => readSecretValues(config));
    // A CDI name is checked against the specs this host has, as build would.
    problems.push(...(await cdiConfigProblems(config)));
    if (problems.length > 0) throw new ConfigError(config.file, problems);
    if (ctx.args.globals.json) ctx.out(JSON.stringify(config, null, 2));
    else {
      const names = Object.keys(config.containers);
      ctx.out(
        `${config.file}: ok, ${names.length} container${names.length === 1 ? "" : "s"}${names.length ? `: ${names.join(", ")}` : ""}`,
      );
      for (const c of Object.values(config.containers)) {
        const h = c.fromHost;
        if (!h || h.took.length === 0) continue;
        ctx.out(`${c.name}: from the host's ${h.unit ?? "packages"} (${h.packages.join(", ")}):`);
        const width = Math.max(...h.took.map((t) => t.key.length));
        for (const t of h.took) ctx.out(`  ${t.key.padEnd(width)}  ${t.value}  (${t.from})`);
      }
    }
    return 0;
  },
};
