import { spawn } from "node:child_process";
import { closeSync, openSync, readSync } from "node:fs";
import { Transform, type TransformCallback } from "node:stream";
import { createGunzip } from "node:zlib";

export type Compression = "none" | "gzip" | "zstd";

/** Layer media types (OCI and Docker) -> compression. Unknown types are undefined. */
export function compressionOf(mediaType: string): Compression | undefined {
  if (/^application\/vnd\.oci\.image\.layer\.(nondistributable\.)?v1\.tar$/.test(mediaType))
    return "none";
  if (/^application\/vnd\.oci\.image\.layer\.(nondistributable\.)?v1\.tar\+gzip$/.test(mediaType))
    return "gzip";
  if (/^application\/vnd\.oci\.image\.layer\.(nondistributable\.)?v1\.tar\+zstd$/.test(mediaType))
    return "zstd";
  if (/^application\/vnd\.docker\.image\.rootfs\.(foreign\.)?diff\.tar\.gzip$/.test(mediaType))
    return "gzip";
  if (mediaType === "application/vnd.docker.image.rootfs.diff.tar") return "none";
  return undefined;
}

/** Compression from the first bytes, for archives that do not say (docker save). */
export function sniffCompression(head: Buffer): Compression {
  if (head[0] === 0x1f && head[1] === 0x8b) return "gzip";
  if (head.length >= 4 && head.readUInt32LE(0) === 0xfd2fb528) return "zstd";
  return "none";
}

/** Compression of a file, from its first bytes. */
export function sniffFile(path: string): Compression {
  const fd = openSync(path, "r");
  try {
    const b = Buffer.alloc(4);
    readSync(fd, b, 0, 4, 0);
    return sniffCompression(b);
  } finally {
    closeSync(fd);
  }
}

/**
 * zstd through Debian's `zstd` tool (Node 20's zlib has no zstd). A non-zero exit (corrupt or
 * truncated input) becomes a stream error, so a bad layer fails instead of hanging.
 */
class ZstdDecompress extends Transform {
  private readonly child = spawn("zstd", ["-d", "-c", "-q"], { stdio: ["pipe", "pipe", "pipe"] });
  private stderr = "";
  private exited: Promise<number>;

  constructor() {
    super();
    this.child.stdout.on("data", (b: Buffer) => {
      if (!this.push(b)) this.child.stdout.pause();
    });
    this.child.stderr.on("data", (b: Buffer) => (this.stderr += b.toString()));
    this.child.stdin.on("error", () => {}); // EPIPE when zstd exits early; the exit code tells
    this.exited = new Promise((resolve) => {
      this.child.on("error", (e) => {
        this.stderr += e.message;
        resolve(127);
      });
      this.child.on("close", (code) => resolve(code ?? 1));
    });
  }

  override _read(size: number): void {
    this.child.stdout.resume();
    super._read(size);
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    if (this.child.stdin.write(chunk)) cb();
    else this.child.stdin.once("drain", () => cb());
  }

  override _flush(cb: TransformCallback): void {
    this.child.stdin.end();
    void this.exited.then((code) =>
      code === 0 ? cb() : cb(new Error(`zstd: ${this.stderr.trim() || `exit ${code}`}`)),
    );
  }

  override _destroy(err: Error | null, cb: (e: Error | null) => void): void {
    this.child.kill("SIGKILL");
    cb(err);
  }
}

/**
 * Output chunk size for gzip. zlib's default (16 KiB) costs one thread-pool round trip per 16 KiB
 * and halves the decompression speed measured here (bench/README.md).
 */
export const CHUNK = 1024 * 1024;

/** A stream that turns compressed layer bytes into tar bytes. */
export function decompressor(c: Compression): Transform {
  if (c === "gzip") return createGunzip({ chunkSize: CHUNK });
  if (c === "zstd") return new ZstdDecompress();
  return new Transform({ transform: (chunk: Buffer, _e, cb) => cb(null, chunk) });
}
