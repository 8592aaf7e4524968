import { createHash } from "node:crypto";

/**
 * A DNS-1123 label (lowercase letters, digits and "-", starting and ending with an alphanumeric,
 * at most `max` characters) for `name`. A name that is already one is kept; any other gets a
 * stable 6-hex suffix from the original, so that "web_1" and "web.1" stay distinct.
 */
export function dnsLabel(name: string, max = 63): string {
  if (name.length <= max && /^[a-z0-9]([a-z0-9-]*[a-z0-9])?$/.test(name)) return name;
  const hash = createHash("sha256").update(name).digest("hex").slice(0, 6);
  const base = name
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, "-")
    .replace(/^-+|-+$/g, "")
    .slice(0, max - hash.length - 1)
    .replace(/-+$/, "");
  return base ? `${base}-${hash}` : `x-${hash}`;
}
