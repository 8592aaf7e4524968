import { mkdirSync } from "node:fs";
import { writeFileAtomic } from "../util/atomic.js";
import { join } from "node:path";
import { UsageError } from "../errors.js";
import { loadFor, type Command, type CommandContext } from "./context.js";

const FORMATS = ["kubernetes", "compose", "quadlet"] as const;
type Format = (typeof FORMATS)[number];
const KUBERNETES_FLAGS = ["stateful", "host-paths", "env-as", "claim-size", "wait-image"];

export const exportCommand: Command = {
  name: "export",
  summary: "write the config for another engine: Kubernetes objects, Quadlet files, a compose file",
  usage:
    "railyard export kubernetes [--out DIR|-] [--stateful] [--host-paths] [--env-as secret|configmap]\n" +
    "       railyard export quadlet [--out DIR|-]\n" +
    "       railyard export compose [--out FILE|-]",
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

railyard export quadlet
  A Podman Quadlet NAME.container file per image container (Podman 5 keys), which Quadlet turns
  into NAME.service: the same user, read-only root, exact capabilities, no_new_privileges,
  mounts, limits, healthcheck, Restart= and dependencies as railyard's own unit. A NET.network
  file per network: a named network keeps its name and subnet; each container on network
  "private" gets a network of its own, private-NAME.

  --out DIR|-           a file per container in DIR (e.g. /etc/containers/systemd), or stdout

railyard export compose
  A compose.yaml with a service per image container that means the same under docker compose
  or podman-compose: capabilities as cap_drop [ALL] plus railyard's exact set, read_only and
  network_mode written out (compose's defaults differ from railyard's), durations as compose
  writes them. "railyard import compose" reads it back.

  --out FILE|-          the file to write, or stdout (default -)

Files written with --out are 0600 (they hold environment values, and Secrets from
environmentFiles); a directory --out makes is 0700.

With --json, prints { "objects": [...], "warnings": [...] } (kubernetes) or
{ "files": [...], "warnings": [...] } (quadlet) or { "compose": {...}, "warnings": [...] }
(compose) instead.`,
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
    if (!FORMATS.includes(format as Format) || extra.length > 0)
      throw new UsageError(`usage: ${this.usage}`);
    const flag = (k: string) => {
      const v = ctx.args.flags[k];
      return typeof v === "string" ? v : undefined;
    };
    if (format !== "kubernetes")
      for (const k of KUBERNETES_FLAGS)
        if (ctx.args.flags[k] !== undefined)
          throw new UsageError(`--${k} is for railyard export kubernetes`);
    const envAs = flag("env-as") ?? "secret";
    if (envAs !== "secret" && envAs !== "configmap")
      throw new UsageError(`--env-as ${JSON.stringify(envAs)}: expected secret or configmap`);
    const [config, { exportInputs, toYamlStream }] = await Promise.all([
      loadFor(ctx, "export"),
      import("../export/inputs.js"),
    ]);
    let r: Rendered;
    if (format === "kubernetes") {
      const { toKubernetes } = await import("../export/kubernetes.js");
      const inputs = exportInputs(config);
      const claimSize = flag("claim-size");
      const waitImage = flag("wait-image");
      const k = toKubernetes(config, inputs, {
        stateful: ctx.args.flags["stateful"] === true,
        hostPaths: ctx.args.flags["host-paths"] === true,
        envFrom: envAs,
        ...(claimSize ? { claimSize } : {}),
        ...(waitImage ? { waitImage } : {}),
      });
      r = {
        json: { objects: k.output },
        warnings: [...inputs.warnings, ...k.warnings],
        stdout: toYamlStream(k.output),
        files: k.output.map((o) => ({
          name: `${o.metadata.name}-${o.kind.toLowerCase()}.yaml`,
          text: toYamlStream([o]),
        })),
        count: k.output.length,
        what: "objects",
      };
    } else {
      // compose and Quadlet read environmentFiles themselves, when they start the container.
      const inputs = exportInputs(config, { envFiles: false });
      if (format === "compose") {
        const { toCompose } = await import("../export/compose.js");
        const c = toCompose(config, inputs.images);
        const text = toYamlStream([c.output]);
        r = {
          json: { compose: c.output },
          warnings: [...inputs.warnings, ...c.warnings],
          stdout: text,
          file: text,
          count: Object.keys(c.output.services).length,
          what: "services",
        };
      } else {
        const { toQuadlet } = await import("../export/quadlet.js");
        const q = toQuadlet(config, inputs.images);
        r = {
          json: { files: q.output },
          warnings: [...inputs.warnings, ...q.warnings],
          stdout: q.output.map((f) => f.text).join("\n"),
          files: q.output,
          count: q.output.length,
          what: "files",
        };
      }
    }
    return emit(ctx, r, flag("out") ?? "-");
  },
};

/** One export, ready for each destination: --json, stdout, a directory of files, or one file. */
interface Rendered {
  readonly json: Record<string, unknown>;
  readonly warnings: readonly string[];
  readonly stdout: string;
  /** A file per item, for --out DIR; or `file`, the one file --out FILE gets. */
  readonly files?: readonly { readonly name: string; readonly text: string }[];
  readonly file?: string;
  /** How many of what were written, for the closing line. */
  readonly count: number;
  readonly what: string;
}

function emit(ctx: CommandContext, r: Rendered, out: string): number {
  if (ctx.args.globals.json) {
    ctx.out(JSON.stringify({ ...r.json, warnings: r.warnings }, null, 2));
    return 0;
  }
  for (const w of r.warnings) ctx.info(`warning: ${w}`);
  if (out === "-") {
    ctx.out(r.stdout.trimEnd());
    return 0;
  }
  // Exports hold environment values and env file contents (Secrets): every file is 0600, also
  // when it replaces one with a wider mode, and a directory made here is 0700.
  if (r.file !== undefined) writeFileAtomic(out, r.file, 0o600);
  else {
    mkdirSync(out, { recursive: true, mode: 0o700 });
    for (const f of r.files ?? []) {
      writeFileAtomic(join(out, f.name), f.text, 0o600);
      ctx.debug(`wrote ${join(out, f.name)}`);
    }
  }
  ctx.info(`wrote ${r.count} ${r.what} to ${out}`);
  return 0;
}
