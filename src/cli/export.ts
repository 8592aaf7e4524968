import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { UsageError } from "../errors.js";
import { loadFor, type Command } from "./context.js";

const FORMATS = ["kubernetes"] as const;

export const exportCommand: Command = {
  name: "export",
  summary: "write the config for another engine: Kubernetes objects",
  usage:
    "railyard export kubernetes [--out DIR|-] [--stateful] [--host-paths] [--env-as secret|configmap]",
  help: `Writes what the config means for another engine, and lists on stderr every key that does not
carry over. Images carry the digests locked in railyard.lock (run "railyard lock" first).

railyard export kubernetes
  One Deployment per image container (a StatefulSet with --stateful when it has volumes), a
  Service for its ports, a PersistentVolumeClaim per bind mount (hostPath with --host-paths),
  a Secret with its environmentFiles, init containers that wait for the Services of dependsOn,
  and a NetworkPolicy that isolates containers with network "none". Names become DNS-1123
  labels, with a short hash when they had to change.

  --out DIR|-           a file per object in DIR, or one YAML stream on stdout (default -)
  --stateful            StatefulSets with volumeClaimTemplates for containers with volumes
  --host-paths          hostPath volumes instead of PersistentVolumeClaims
  --env-as KIND         secret (default) or configmap, for environmentFiles
  --claim-size SIZE     storage asked for by each claim (default 1Gi)
  --wait-image IMAGE    image of the init containers (default docker.io/library/busybox:1.36)

With --json, prints { "objects": [...], "warnings": [...] } instead.`,
  flags: {
    long: {
      out: true,
      stateful: false,
      "host-paths": false,
      "env-as": true,
      "claim-size": true,
      "wait-image": true,
    },
  },
  async run(ctx) {
    const [format, ...extra] = ctx.args.positionals;
    if (!FORMATS.includes(format as (typeof FORMATS)[number]) || extra.length > 0)
      throw new UsageError(`usage: ${this.usage}`);
    const flag = (k: string) => {
      const v = ctx.args.flags[k];
      return typeof v === "string" ? v : undefined;
    };
    const envAs = flag("env-as") ?? "secret";
    if (envAs !== "secret" && envAs !== "configmap")
      throw new UsageError(`--env-as ${JSON.stringify(envAs)}: expected secret or configmap`);
    const [config, { toKubernetes }, { exportInputs, toYamlStream }] = await Promise.all([
      loadFor(ctx, "export"),
      import("../export/kubernetes.js"),
      import("../export/inputs.js"),
    ]);
    const inputs = exportInputs(config);
    const claimSize = flag("claim-size");
    const waitImage = flag("wait-image");
    const r = toKubernetes(config, inputs, {
      stateful: ctx.args.flags["stateful"] === true,
      hostPaths: ctx.args.flags["host-paths"] === true,
      envFrom: envAs,
      ...(claimSize ? { claimSize } : {}),
      ...(waitImage ? { waitImage } : {}),
    });
    const warnings = [...inputs.warnings, ...r.warnings];
    if (ctx.args.globals.json) {
      ctx.out(JSON.stringify({ objects: r.output, warnings }, null, 2));
      return 0;
    }
    for (const w of warnings) ctx.info(`warning: ${w}`);
    const out = flag("out") ?? "-";
    if (out === "-") {
      ctx.out(toYamlStream(r.output).trimEnd());
      return 0;
    }
    mkdirSync(out, { recursive: true });
    for (const obj of r.output) {
      const file = join(out, `${obj.metadata.name}-${obj.kind.toLowerCase()}.yaml`);
      writeFileSync(file, toYamlStream([obj]));
      ctx.debug(`wrote ${file}`);
    }
    ctx.info(`wrote ${r.output.length} objects to ${out}`);
    return 0;
  },
};
