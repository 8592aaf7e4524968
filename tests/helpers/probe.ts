import assert from "node:assert/strict";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { railyard } from "./cli.js";

/** What the probe prints when the other engine ran it as railyard would. */
export const PROBE_OUTPUT = "a file on the host\nroot read-only\ndata read-only\n";

/**
 * The container the export tests hand to another engine. It prints what a user would check (its
 * env file's greeting and uid:gid, then a host file and whether its root and volume are
 * writable), then execs `last`. Writes its data dir, env file and config under `dir`, locks the
 * image, and returns the config file and the locked digest.
 */
export async function writeProbe(
  dir: string,
  registryHost: string,
  ref: string,
  o: { readonly last: string; readonly greeting?: string; readonly extra?: object },
): Promise<{ file: string; digest: string }> {
  const data = join(dir, "data");
  mkdirSync(data);
  writeFileSync(join(data, "x"), "a file on the host\n");
  writeFileSync(join(dir, "app.env"), "GREETING=hello from an env file\n");
  const file = join(dir, "railyard.config.json");
  writeFileSync(
    file,
    JSON.stringify({
      stateDir: join(dir, "state"),
      registries: { [registryHost]: { insecure: true } },
      containers: {
        hello: {
          image: ref,
          entrypoint: ["/bin/busybox", "sh", "-c"],
          cmd: [
            `echo ${o.greeting ?? "$GREETING as $(busybox id -u):$(busybox id -g)"}; busybox cat /data/x; ` +
              "busybox touch /x 2>/dev/null && echo root writable || echo root read-only; " +
              "busybox touch /data/y 2>/dev/null && echo data writable || echo data read-only; " +
              `exec ${o.last}`,
          ],
          environment: { PATH: "/bin" },
          user: "2000:100",
          // The hardened recipe: each engine must keep the root read-only when told to.
          readonly: true,
          volumes: [`${data}:/data:ro`],
          environmentFiles: [join(dir, "app.env")],
          ...o.extra,
        },
      },
    }),
  );
  const lock = await railyard(["--config", file, "lock"]);
  assert.equal(lock.code, 0, lock.stderr);
  const digest = /sha256:[a-f0-9]{64}/.exec(lock.stdout)?.[0];
  assert.ok(digest, lock.stdout);
  return { file, digest };
}
