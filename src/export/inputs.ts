/**
 * What the renderers need from the host (I/O): each image with the digest railyard.lock pins, and
 * each container's environmentFiles. Plus the YAML writer they share.
 */
import { readFileSync } from "node:fs";
import { stringify } from "yaml";
import { readEnvFiles } from "../bundle/host.js";
import type { ResolvedConfig } from "../model/types.js";
import { lockPathFor, readLock } from "../image/lock.js";

export interface ExportInputs {
  readonly images: Record<string, string>;
  readonly envFiles: Record<string, Record<string, string>>;
  /** Each secret's value, base64, for formats that carry values (Kubernetes). */
  readonly secretFiles: Record<string, string>;
  readonly warnings: string[];
}

/** `envFiles: false` for formats whose engine reads the files itself (compose, Quadlet). */
export function exportInputs(
  config: ResolvedConfig,
  o: { readonly envFiles?: boolean } = {},
): ExportInputs {
  const lock = readLock(lockPathFor(config.file));
  const images: Record<string, string> = {};
  const envFiles: Record<string, Record<string, string>> = {};
  const warnings: string[] = [];
  for (const c of Object.values(config.containers)) {
    if (!c.image) continue; // host programs are not exported: their env files are not read
    if (c.environmentFiles.length > 0 && o.envFiles !== false)
      envFiles[c.name] = readEnvFiles(c, config.file);
    const at = `containers.${c.name}.image`;
    if (c.image.file)
      warnings.push(
        `${at}: imported from ${c.image.file}; push it to a registry the target can pull from`,
      );
    if (c.image.ref.includes("@")) images[c.name] = c.image.ref;
    else {
      const digest = lock.images[c.image.ref]?.digest;
      if (digest) images[c.name] = `${c.image.ref}@${digest}`;
      else {
        images[c.name] = c.image.ref;
        warnings.push(
          `${at}: ${c.image.ref} is not locked, so it is exported by tag (run railyard lock)`,
        );
      }
    }
  }
  const secretFiles: Record<string, string> = {};
  if (o.envFiles !== false)
    for (const [name, s] of Object.entries(config.secrets))
      if (s.file !== undefined)
        try {
          secretFiles[name] = readFileSync(s.file).toString("base64");
        } catch {
          // named by the renderer, with what to do
        }
  return { images, envFiles, secretFiles, warnings };
}

/**
 * Documents as one YAML stream, "---" between them; keys keep the renderers' order. Strings are
 * quoted wherever a YAML 1.1 reader (PyYAML in podman-compose, go-yaml in Kubernetes) would take
 * them for something else: "no", "on", "22:22" (a base-60 number there).
 */
export function toYamlStream(docs: readonly unknown[]): string {
  return docs
    .map((d) => stringify(d, { lineWidth: 0, aliasDuplicateObjects: false, version: "1.1" }))
    .join("---\n");
}
