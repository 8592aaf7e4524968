import { createHash } from "node:crypto";
import { promisify } from "node:util";
import {
  closeSync,
  existsSync,
  fsync,
  fsyncSync,
  mkdirSync,
  openSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
} from "node:fs";
import { join } from "node:path";
import type { Readable } from "node:stream";
import { DigestMismatchError, RailyardError } from "../errors.js";
import { MEDIA, type Descriptor } from "./manifest.js";
import { withLockFile } from "../util/lockfile.js";
import { writeAll, writeFileAtomic } from "../util/atomic.js";

export const REF_ANNOTATION = "org.opencontainers.image.ref.name";

interface IndexJson {
  schemaVersion: 2;
  mediaType?: string;
  manifests: Descriptor[];
}

const hexOf = (digest: string): string => {
  const m = /^sha256:([a-f0-9]{64})$/.exec(digest);
  if (!m?.[1])
    throw new RailyardError(
      `unsupported digest ${JSON.stringify(digest)} (railyard stores sha256 only)`,
    );
  return m[1];
};

function fsyncDir(dir: string): void {
  const fd = openSync(dir, "r");
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/**
 * A content-addressed store in OCI image-layout form: `oci-layout`, `index.json`, `blobs/sha256/`.
 * A blob file only ever appears under its name after its bytes were hashed and matched: writes go
 * to a temp file that is fsynced and renamed. Partial downloads live outside the layout, in `tmp/`,
 * keyed by digest, so an interrupted pull can resume them.
 */
export class Store {
  readonly blobs: string;
  readonly tmp: string;

  constructor(readonly dir: string) {
    this.blobs = join(dir, "blobs", "sha256");
    this.tmp = join(dir, "..", "tmp");
  }

  /** Create the layout if missing. The store is 0700: unpacked images may hold setuid files. */
  init(): this {
    mkdirSync(this.blobs, { recursive: true, mode: 0o700 });
    mkdirSync(this.tmp, { recursive: true, mode: 0o700 });
    const layout = join(this.dir, "oci-layout");
    if (!existsSync(layout))
      writeFileAtomic(layout, `${JSON.stringify({ imageLayoutVersion: "1.0.0" })}\n`);
    if (!existsSync(join(this.dir, "index.json")))
      writeFileAtomic(
        join(this.dir, "index.json"),
        `${JSON.stringify({ schemaVersion: 2, mediaType: MEDIA.ociIndex, manifests: [] })}\n`,
      );
    return this;
  }

  blobPath(digest: string): string {
    return join(this.blobs, hexOf(digest));
  }

  has(d: { digest: string; size?: number }): boolean {
    try {
      const st = statSync(this.blobPath(d.digest));
      return d.size === undefined || st.size === d.size;
    } catch {
      return false;
    }
  }

  readBlob(digest: string): Buffer {
    return readFileSync(this.blobPath(digest));
  }

  /** Where a download of `digest` accumulates; resumable with an HTTP Range request. */
  /**
   * The flock of one blob's download. Lock files are never unlinked (see util/lockfile.ts): they
   * stay, a few bytes each, in `tmp/locks/`, apart from the partial downloads.
   */
  blobLockPath(digest: string): string {
    mkdirSync(join(this.tmp, "locks"), { recursive: true, mode: 0o700 });
    return join(this.tmp, "locks", `blob-${hexOf(digest)}.lock`);
  }

  partialPath(digest: string): string {
    return join(this.tmp, `partial-${hexOf(digest)}`);
  }

  /** Store bytes already in memory, checking them against `expected` when given. */
  putBytes(bytes: Buffer, expected?: { digest: string; size?: number }): string {
    const digest = `sha256:${createHash("sha256").update(bytes).digest("hex")}`;
    if (expected) {
      if (expected.size !== undefined && expected.size !== bytes.length)
        throw new DigestMismatchError(
          `blob ${expected.digest}: expected ${expected.size} bytes, got ${bytes.length}`,
          String(expected.size),
          String(bytes.length),
        );
      if (expected.digest !== digest)
        throw new DigestMismatchError(
          `blob ${expected.digest}: content has digest ${digest}`,
          expected.digest,
          digest,
        );
    }
    if (!this.has({ digest })) {
      writeFileAtomic(this.blobPath(digest), bytes);
      fsyncDir(this.blobs);
    }
    return digest;
  }

  /**
   * Append a stream to the partial file of `expected`, then verify size and digest of the whole
   * and move it into the store. A mismatch deletes the partial file (it can never become valid).
   */
  async putStream(
    source: Readable,
    expected: { digest: string; size: number },
    append: boolean,
  ): Promise<void> {
    const partial = this.partialPath(expected.digest);
    const hash = createHash("sha256");
    let have = 0;
    if (append && existsSync(partial)) {
      const prior = readFileSync(partial);
      hash.update(prior);
      have = prior.length;
    }
    const fd = openSync(partial, append ? "a" : "w", 0o600);
    try {
      for await (const chunk of source as AsyncIterable<Buffer>) {
        have += chunk.length;
        if (have > expected.size)
          throw new DigestMismatchError(
            `blob ${expected.digest}: more than the expected ${expected.size} bytes`,
            String(expected.size),
            String(have),
          );
        hash.update(chunk);
        writeAll(fd, chunk);
      }
      // On the thread pool: unpacking of earlier layers goes on meanwhile.
      await promisify(fsync)(fd);
    } catch (e) {
      closeSync(fd);
      if (e instanceof DigestMismatchError) rmSync(partial, { force: true });
      throw e;
    }
    closeSync(fd);
    if (have !== expected.size) {
      if (have > expected.size) rmSync(partial, { force: true });
      throw new DigestMismatchError(
        `blob ${expected.digest}: expected ${expected.size} bytes, got ${have}`,
        String(expected.size),
        String(have),
      );
    }
    const actual = `sha256:${hash.digest("hex")}`;
    if (actual !== expected.digest) {
      rmSync(partial, { force: true });
      throw new DigestMismatchError(
        `blob ${expected.digest}: content has digest ${actual}`,
        expected.digest,
        actual,
      );
    }
    renameSync(partial, this.blobPath(expected.digest));
    fsyncDir(this.blobs);
  }

  /** Run `f` holding the store's index lock. */
  async withIndexLock<T>(f: () => T): Promise<T> {
    const lock = join(this.dir, "index.json.lock");
    return withLockFile(
      lock,
      async () => f(),
      30_000,
      (pid) => new RailyardError(`the image store is locked by pid ${pid} (${lock})`),
    );
  }

  /**
   * Download a blob at most once at a time: concurrent pulls of the same image wait for the one
   * holding the blob's lock, then find the blob in the store. `f` runs only if it is still missing.
   */
  async withBlobLock(d: { digest: string; size: number }, f: () => Promise<void>): Promise<void> {
    await withLockFile(
      this.blobLockPath(d.digest),
      async () => {
        if (!this.has(d)) await f();
      },
      24 * 3600_000,
      (pid) =>
        new RailyardError(`blob ${d.digest} is being downloaded by pid ${pid} for over a day`),
    );
  }

  readIndex(): IndexJson {
    try {
      return JSON.parse(readFileSync(join(this.dir, "index.json"), "utf8")) as IndexJson;
    } catch {
      return { schemaVersion: 2, mediaType: MEDIA.ociIndex, manifests: [] };
    }
  }

  /** Point `name` (a full reference) at a manifest or index descriptor in index.json. */
  async tag(name: string, d: Descriptor): Promise<void> {
    await this.withIndexLock(() => {
      const index = this.readIndex();
      const manifests = index.manifests.filter((m) => m.annotations?.[REF_ANNOTATION] !== name);
      manifests.push({
        mediaType: d.mediaType,
        digest: d.digest,
        size: d.size,
        annotations: { [REF_ANNOTATION]: name },
      });
      manifests.sort((a, b) =>
        (a.annotations?.[REF_ANNOTATION] ?? "").localeCompare(
          b.annotations?.[REF_ANNOTATION] ?? "",
        ),
      );
      writeFileAtomic(
        join(this.dir, "index.json"),
        `${JSON.stringify({ ...index, manifests }, null, 2)}\n`,
      );
    });
  }

  async untag(name: string): Promise<boolean> {
    return this.withIndexLock(() => {
      const index = this.readIndex();
      const manifests = index.manifests.filter((m) => m.annotations?.[REF_ANNOTATION] !== name);
      if (manifests.length === index.manifests.length) return false;
      writeFileAtomic(
        join(this.dir, "index.json"),
        `${JSON.stringify({ ...index, manifests }, null, 2)}\n`,
      );
      return true;
    });
  }

  lookup(name: string): Descriptor | undefined {
    return this.readIndex().manifests.find((m) => m.annotations?.[REF_ANNOTATION] === name);
  }
}
