import { existsSync, statSync } from "node:fs";
import { Readable, Transform } from "node:stream";
import type { ReadableStream as WebReadableStream } from "node:stream/web";
import { RegistryError } from "../errors.js";
import { parseChallenge, type Credentials } from "./auth.js";
import { MANIFEST_ACCEPT, MAX_MANIFEST_BYTES, type Descriptor } from "./manifest.js";
import { registryHost } from "../model/reference.js";
import type { Store } from "./store.js";
import { createHash } from "node:crypto";

export interface RegistryOptions {
  /** Plain HTTP, only for registries the config lists as insecure. */
  readonly insecure: boolean;
  readonly credentials?: Credentials | undefined;
  readonly fetch?: typeof fetch;
  readonly signal?: AbortSignal;
  /** Sleep, injectable so tests of 429 handling need not wait. */
  readonly sleep?: (ms: number) => Promise<void>;
}

export interface FetchedManifest {
  readonly bytes: Buffer;
  readonly contentType: string;
  readonly digest: string;
}

const MAX_REDIRECTS = 10;
const MAX_RETRIES = 5;

/** Parse Retry-After (seconds or an HTTP date) into milliseconds, capped at a minute. */
export function retryAfterMs(v: string | null, now = Date.now()): number {
  if (!v) return 1000;
  const secs = Number(v);
  const ms = Number.isFinite(secs) ? secs * 1000 : Date.parse(v) - now;
  return Math.min(Math.max(Number.isFinite(ms) ? ms : 1000, 0), 60_000);
}

/** A client for one registry's Distribution API: manifests, blobs, token and basic auth. */
export class RegistryClient {
  readonly base: string;
  private readonly tokens = new Map<string, string>();
  private readonly f: typeof fetch;
  private readonly sleep: (ms: number) => Promise<void>;

  constructor(
    readonly domain: string,
    private readonly o: RegistryOptions,
  ) {
    this.base = `${o.insecure ? "http" : "https"}://${registryHost(domain)}`;
    this.f = o.fetch ?? fetch;
    this.sleep = o.sleep ?? ((ms) => new Promise((r) => setTimeout(r, ms)));
  }

  private basic(): string | undefined {
    const c = this.o.credentials;
    return c ? `Basic ${Buffer.from(`${c.username}:${c.password}`).toString("base64")}` : undefined;
  }

  /** Anonymous or authenticated Bearer token for a scope, via the challenge's realm. */
  private async token(params: Readonly<Record<string, string>>, scope: string): Promise<string> {
    const realm = params["realm"];
    if (!realm) throw new RegistryError(`${this.domain}: Bearer challenge without a realm`);
    const url = new URL(realm);
    if (params["service"]) url.searchParams.set("service", params["service"]);
    url.searchParams.set("scope", params["scope"] ?? scope);
    const headers: Record<string, string> = {};
    const basic = this.basic();
    if (basic) headers["authorization"] = basic;
    const res = await this.f(url, { headers, ...(this.o.signal ? { signal: this.o.signal } : {}) });
    if (!res.ok)
      throw new RegistryError(
        `${this.domain}: token request to ${url.origin}${url.pathname} failed: HTTP ${res.status}`,
        res.status,
      );
    const body = (await res.json()) as { token?: string; access_token?: string };
    const token = body.token ?? body.access_token;
    if (!token) throw new RegistryError(`${this.domain}: token response has no token`);
    return token;
  }

  /**
   * GET with the registry's auth flow, redirects followed by hand (Authorization never goes to
   * another origin), and 429 honoured with Retry-After.
   */
  async get(
    pathAndQuery: string,
    scope: string,
    headers: Record<string, string> = {},
  ): Promise<Response> {
    let url = new URL(`${this.base}${pathAndQuery}`);
    const origin = url.origin;
    let auth = this.tokens.get(scope);
    let triedAuth = false;
    for (let attempt = 0, redirects = 0; ;) {
      const h: Record<string, string> = { ...headers };
      if (auth && url.origin === origin) h["authorization"] = auth;
      let res: Response;
      try {
        res = await this.f(url, {
          headers: h,
          redirect: "manual",
          ...(this.o.signal ? { signal: this.o.signal } : {}),
        });
      } catch (e) {
        if (this.o.signal?.aborted || ++attempt > 2)
          throw new RegistryError(
            `${this.domain}: cannot reach ${url.origin}: ${(e as Error).message}${(e as { cause?: Error }).cause ? ` (${(e as { cause: Error }).cause.message})` : ""}`,
          );
        await this.sleep(200 * attempt);
        continue;
      }
      if (res.status >= 300 && res.status < 400 && res.headers.get("location")) {
        if (++redirects > MAX_REDIRECTS)
          throw new RegistryError(`${this.domain}: too many redirects`);
        url = new URL(res.headers.get("location") as string, url);
        await res.body?.cancel();
        continue;
      }
      if (res.status === 429 && attempt < MAX_RETRIES) {
        attempt++;
        await res.body?.cancel();
        await this.sleep(retryAfterMs(res.headers.get("retry-after")));
        continue;
      }
      if (res.status === 401 && !triedAuth && url.origin === origin) {
        triedAuth = true;
        const challenge = parseChallenge(res.headers.get("www-authenticate") ?? "");
        await res.body?.cancel();
        if (challenge?.scheme === "bearer")
          auth = `Bearer ${await this.token(challenge.params, scope)}`;
        else if (challenge?.scheme === "basic" && this.basic()) auth = this.basic();
        else
          throw new RegistryError(
            `${this.domain}: authentication required${challenge ? ` (${challenge.scheme})` : ""}. give credentials with the container's login, or in ~/.docker/config.json or $XDG_RUNTIME_DIR/containers/auth.json`,
            401,
          );
        this.tokens.set(scope, auth as string);
        continue;
      }
      if (res.status === 401 || res.status === 403) {
        await res.body?.cancel();
        throw new RegistryError(
          `${this.domain}: access denied (HTTP ${res.status}) to ${pathAndQuery}. check the credentials`,
          res.status,
        );
      }
      return res;
    }
  }

  /** A manifest or index by tag or digest, size-capped, with its digest computed from the bytes. */
  async manifest(repo: string, ref: string): Promise<FetchedManifest> {
    const res = await this.get(`/v2/${repo}/manifests/${ref}`, `repository:${repo}:pull`, {
      accept: MANIFEST_ACCEPT,
    });
    if (res.status === 404) {
      await res.body?.cancel();
      throw new RegistryError(`${this.domain}/${repo}:${ref}: not found in the registry`, 404);
    }
    if (!res.ok) {
      await res.body?.cancel();
      throw new RegistryError(
        `${this.domain}/${repo}: manifest ${ref}: HTTP ${res.status}`,
        res.status,
      );
    }
    const declared = Number(res.headers.get("content-length") ?? "0");
    if (declared > MAX_MANIFEST_BYTES) {
      await res.body?.cancel();
      throw new RegistryError(
        `${this.domain}/${repo}: manifest of ${declared} bytes exceeds ${MAX_MANIFEST_BYTES}`,
      );
    }
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const c of Readable.fromWeb(
      res.body as WebReadableStream<Uint8Array>,
    ) as AsyncIterable<Buffer>) {
      size += c.length;
      if (size > MAX_MANIFEST_BYTES)
        throw new RegistryError(
          `${this.domain}/${repo}: manifest exceeds ${MAX_MANIFEST_BYTES} bytes`,
        );
      chunks.push(c);
    }
    const bytes = Buffer.concat(chunks);
    const digest = `sha256:${createHash("sha256").update(bytes).digest("hex")}`;
    if (ref.startsWith("sha256:") && ref !== digest)
      throw new RegistryError(
        `${this.domain}/${repo}@${ref}: the registry returned a manifest with digest ${digest}`,
      );
    const header = res.headers.get("docker-content-digest");
    if (header?.startsWith("sha256:") && header !== digest)
      throw new RegistryError(
        `${this.domain}/${repo}:${ref}: Docker-Content-Digest ${header} does not match the body's ${digest}`,
      );
    return { bytes, contentType: res.headers.get("content-type") ?? "", digest };
  }

  /**
   * Download a blob into the store, resuming a partial download with Range. The store checks size
   * and digest before the blob appears under its name.
   */
  async blob(
    repo: string,
    d: Descriptor,
    store: Store,
    progress?: (bytes: number) => void,
  ): Promise<void> {
    if (store.has(d)) {
      progress?.(d.size);
      return;
    }
    await store.withBlobLock(d, async () => {
      const partial = store.partialPath(d.digest);
      const have = existsSync(partial) ? statSync(partial).size : 0;
      const resume = have > 0 && have < d.size;
      const res = await this.get(
        `/v2/${repo}/blobs/${d.digest}`,
        `repository:${repo}:pull`,
        resume ? { range: `bytes=${have}-` } : {},
      );
      if (!res.ok) {
        await res.body?.cancel();
        throw new RegistryError(
          `${this.domain}/${repo}: blob ${d.digest}: HTTP ${res.status}`,
          res.status,
        );
      }
      const append = resume && res.status === 206;
      let seen = append ? have : 0;
      progress?.(seen);
      const counter = new Transform({
        transform(chunk: Buffer, _e, cb) {
          seen += chunk.length;
          progress?.(seen);
          cb(null, chunk);
        },
      });
      const body = Readable.fromWeb(res.body as WebReadableStream<Uint8Array>).pipe(counter);
      await store.putStream(body, d, append);
    });
    progress?.(d.size);
  }
}
