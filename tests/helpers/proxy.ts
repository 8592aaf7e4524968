/**
 * An HTTP front for the test registry that can demand Bearer tokens (with its own token
 * endpoint, the flow Docker Hub uses), slow blob downloads down, corrupt them, or answer 429.
 * It forwards to the real docker-registry; it never stands in for it.
 */
import { randomBytes } from "node:crypto";
import { createServer, request, type IncomingMessage, type ServerResponse } from "node:http";

export interface ProxyOptions {
  /** Require `Authorization: Bearer` issued by /token (which itself takes these Basic credentials). */
  bearer?: { user: string; password: string };
  /** Bytes per second for blob bodies. */
  throttle?: number;
  /** Flip a byte in the middle of every blob body, or only of the blob with this digest. */
  corrupt?: boolean | string;
  /** Answer this many requests with 429 + Retry-After: 1 first. */
  tooMany?: number;
}

export interface Proxy {
  readonly host: string;
  readonly requests: string[];
  stop(): Promise<void>;
}

export function startProxy(upstream: string, o: ProxyOptions): Promise<Proxy> {
  const tokens = new Set<string>();
  const requests: string[] = [];
  let tooMany = o.tooMany ?? 0;
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const url = req.url ?? "/";
    requests.push(
      `${req.method} ${url} ${req.headers.authorization?.split(" ")[0] ?? "-"}${req.headers.range ? ` ${req.headers.range}` : ""}`,
    );
    const self = `http://${req.headers.host}`;
    if (url.startsWith("/token")) {
      const q = new URL(url, self).searchParams;
      const basic = req.headers.authorization?.startsWith("Basic ")
        ? Buffer.from(req.headers.authorization.slice(6), "base64").toString()
        : "";
      if (o.bearer && basic !== `${o.bearer.user}:${o.bearer.password}`) {
        res.writeHead(401).end();
        return;
      }
      if (q.get("service") !== "railyard-test" || !q.get("scope")?.startsWith("repository:")) {
        res.writeHead(400).end();
        return;
      }
      const t = randomBytes(16).toString("hex");
      tokens.add(t);
      res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ token: t }));
      return;
    }
    if (tooMany > 0) {
      tooMany--;
      res.writeHead(429, { "retry-after": "1" }).end();
      return;
    }
    if (o.bearer) {
      const auth = req.headers.authorization ?? "";
      if (!auth.startsWith("Bearer ") || !tokens.has(auth.slice(7))) {
        const repo = /^\/v2\/(.+)\/(manifests|blobs)\//.exec(url)?.[1] ?? "";
        res
          .writeHead(401, {
            "www-authenticate": `Bearer realm="${self}/token",service="railyard-test",scope="repository:${repo}:pull"`,
          })
          .end();
        return;
      }
    }
    const headers = { ...req.headers, host: upstream };
    delete headers.authorization;
    const up = request(
      {
        host: upstream.split(":")[0],
        port: Number(upstream.split(":")[1]),
        path: url,
        method: req.method,
        headers,
      },
      (ur) => {
        res.writeHead(ur.statusCode ?? 502, ur.headers);
        const isBlob = /\/blobs\/sha256:/.test(url) && (ur.statusCode ?? 0) < 300;
        if (!isBlob || (!o.throttle && !o.corrupt)) {
          ur.pipe(res);
          return;
        }
        let seen = 0;
        const total = Number(ur.headers["content-length"] ?? 0);
        ur.on("data", (chunk: Buffer) => {
          const hit = o.corrupt === true || (!!o.corrupt && url.includes(o.corrupt));
          if (hit && seen <= total / 2 && seen + chunk.length > total / 2) {
            const i = Math.floor(total / 2) - seen;
            chunk[i] = (chunk[i] ?? 0) ^ 0xff;
          }
          seen += chunk.length;
          if (o.throttle) {
            ur.pause();
            res.write(chunk);
            setTimeout(() => ur.resume(), (chunk.length / o.throttle) * 1000);
          } else res.write(chunk);
        });
        ur.on("end", () => res.end());
      },
    );
    up.on("error", () => res.writeHead(502).end());
    req.pipe(up);
  });
  return new Promise((resolve) =>
    server.listen(0, "127.0.0.1", () => {
      const a = server.address();
      const host = `127.0.0.1:${typeof a === "object" && a ? a.port : 0}`;
      resolve({
        host,
        requests,
        stop: () =>
          new Promise((r) => {
            server.closeAllConnections();
            server.close(() => r());
          }),
      });
    }),
  );
}
