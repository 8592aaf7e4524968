import { readFileSync } from "node:fs";
import { join } from "node:path";

export interface Credentials {
  readonly username: string;
  readonly password: string;
}

/** `auths` of a docker config.json or containers auth.json: host -> base64("user:pass"). */
export function credentialsFromAuthFile(text: string, host: string): Credentials | undefined {
  let doc: { auths?: Record<string, { auth?: string; username?: string; password?: string }> };
  try {
    doc = JSON.parse(text) as typeof doc;
  } catch {
    return undefined;
  }
  const auths = doc.auths ?? {};
  const keys =
    host === "docker.io"
      ? ["docker.io", "https://index.docker.io/v1/", "index.docker.io", "registry-1.docker.io"]
      : [host, `https://${host}`, `http://${host}`];
  for (const k of keys) {
    const e = auths[k];
    if (!e) continue;
    if (e.username && e.password) return { username: e.username, password: e.password };
    if (e.auth) {
      const plain = Buffer.from(e.auth, "base64").toString("utf8");
      const i = plain.indexOf(":");
      if (i > 0) return { username: plain.slice(0, i), password: plain.slice(i + 1) };
    }
  }
  return undefined;
}

/** Credentials for a registry from the standard files, first match wins. */
export function findCredentials(host: string, env: NodeJS.ProcessEnv): Credentials | undefined {
  const files = [
    env["REGISTRY_AUTH_FILE"],
    env["XDG_RUNTIME_DIR"] ? join(env["XDG_RUNTIME_DIR"], "containers", "auth.json") : undefined,
    env["DOCKER_CONFIG"] ? join(env["DOCKER_CONFIG"], "config.json") : undefined,
    env["HOME"] ? join(env["HOME"], ".docker", "config.json") : undefined,
  ].filter((f): f is string => f !== undefined);
  for (const f of files) {
    try {
      const c = credentialsFromAuthFile(readFileSync(f, "utf8"), host);
      if (c) return c;
    } catch {
      // no such file
    }
  }
  return undefined;
}

export interface Challenge {
  readonly scheme: string;
  readonly params: Readonly<Record<string, string>>;
}

/** Parse `WWW-Authenticate: Bearer realm="...",service="...",scope="..."`. */
export function parseChallenge(header: string): Challenge | undefined {
  const m = /^\s*(\w+)\s*(.*)$/.exec(header);
  if (!m?.[1]) return undefined;
  const params: Record<string, string> = {};
  const re = /(\w+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,]+))/g;
  let p: RegExpExecArray | null;
  while ((p = re.exec(m[2] ?? "")) !== null)
    params[(p[1] ?? "").toLowerCase()] = (p[2] ?? p[3] ?? "").replace(/\\(.)/g, "$1");
  return { scheme: m[1].toLowerCase(), params };
}
