/** User and group databases, as text. Pure. */

/** Parse `/etc/passwd`- and `/etc/group`-format text into name -> [id, gid] maps. */
export function parseIdFile(text: string): Map<string, [number, number]> {
  const out = new Map<string, [number, number]>();
  for (const line of text.split("\n")) {
    const f = line.split(":");
    if (f.length < 3 || line.startsWith("#")) continue;
    const id = Number(f[2]);
    const gid = Number(f[3] ?? f[2]);
    if (Number.isInteger(id) && f[0]) out.set(f[0], [id, Number.isInteger(gid) ? gid : id]);
  }
  return out;
}
