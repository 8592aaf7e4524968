import assert from "node:assert/strict";
import { test } from "node:test";
import { ociValidator } from "../../tests/helpers/oci-schema.js";
import {
  MEDIA,
  normalisePlatform,
  parseManifestDocument,
  selectPlatform,
  type Index,
} from "./manifest.js";

const d = (c: string) => `sha256:${c.repeat(64)}`;
const manifest = {
  schemaVersion: 2,
  mediaType: MEDIA.ociManifest,
  config: { mediaType: MEDIA.ociConfig, digest: d("a"), size: 10 },
  layers: [{ mediaType: "application/vnd.oci.image.layer.v1.tar+gzip", digest: d("b"), size: 20 }],
};
const index = {
  schemaVersion: 2,
  mediaType: MEDIA.ociIndex,
  manifests: [
    {
      mediaType: MEDIA.ociManifest,
      digest: d("c"),
      size: 1,
      platform: { os: "linux", architecture: "arm64", variant: "v8" },
    },
    {
      mediaType: MEDIA.ociManifest,
      digest: d("d"),
      size: 1,
      platform: { os: "linux", architecture: "amd64" },
    },
    {
      mediaType: MEDIA.ociManifest,
      digest: d("e"),
      size: 1,
      platform: { os: "linux", architecture: "arm", variant: "v7" },
    },
  ],
};
const bytes = (o: unknown) => Buffer.from(JSON.stringify(o));

test("the fixtures are valid per the OCI image schemas", () => {
  assert.deepEqual(ociValidator("image-spec", "image-manifest-schema.json")(manifest), []);
  assert.deepEqual(ociValidator("image-spec", "image-index-schema.json")(index), []);
});

test("manifests and indexes parse; the media type must agree with Content-Type", () => {
  assert.equal(parseManifestDocument(bytes(manifest), MEDIA.ociManifest).kind, "manifest");
  assert.equal(
    parseManifestDocument(bytes(index), `${MEDIA.ociIndex}; charset=utf-8`).kind,
    "index",
  );
  assert.throws(
    () => parseManifestDocument(bytes(manifest), MEDIA.ociIndex),
    /says it is .*manifest.* but was served as .*index/,
  );
  assert.throws(
    () => parseManifestDocument(bytes({ ...manifest, manifests: [] }), MEDIA.ociManifest),
    /ambiguous document/,
  );
  const noType = { ...manifest } as Record<string, unknown>;
  delete noType["mediaType"];
  assert.throws(() => parseManifestDocument(bytes({ ...noType, manifests: [] })), /ambiguous/);
  assert.throws(
    () => parseManifestDocument(bytes({ schemaVersion: 1, name: "x" })),
    /schema 1 manifests are not supported/,
  );
  assert.throws(() => parseManifestDocument(Buffer.alloc(5 << 20, 32)), /exceeds/);
  assert.throws(
    () =>
      parseManifestDocument(
        bytes({ ...manifest, layers: [{ mediaType: "x", digest: "sha256:zz", size: 1 }] }),
      ),
    /invalid digest/,
  );
});

test("platforms are normalised as containerd does and chosen from an index", () => {
  assert.deepEqual(normalisePlatform({ os: "linux", architecture: "aarch64" }), {
    os: "linux",
    architecture: "arm64",
    variant: "",
  });
  assert.deepEqual(normalisePlatform({ os: "linux", architecture: "x86_64" }), {
    os: "linux",
    architecture: "amd64",
    variant: "",
  });
  assert.deepEqual(normalisePlatform({ os: "linux", architecture: "armhf" }), {
    os: "linux",
    architecture: "arm",
    variant: "v7",
  });
  const idx = parseManifestDocument(bytes(index), MEDIA.ociIndex) as Index;
  assert.equal(selectPlatform(idx, { os: "linux", architecture: "x86_64" }).digest, d("d"));
  assert.equal(selectPlatform(idx, { os: "linux", architecture: "aarch64" }).digest, d("c"));
  assert.equal(
    selectPlatform(idx, { os: "linux", architecture: "arm", variant: "7" }).digest,
    d("e"),
  );
  assert.throws(
    () => selectPlatform(idx, { os: "linux", architecture: "riscv64" }),
    /no image for linux\/riscv64 in the index; it offers: linux\/arm64\/v8, linux\/amd64, linux\/arm\/v7/,
  );
});
