import assert from "node:assert/strict";
import { test } from "node:test";
import { formatReference, parseReference, registryHost } from "./reference.js";

const norm = (s: string) => formatReference(parseReference(s));
const D = `sha256:${"a".repeat(64)}`;

test("references normalise as docker normalises them", () => {
  assert.equal(norm("ubuntu"), "docker.io/library/ubuntu:latest");
  assert.equal(norm("croc/onedrive"), "docker.io/croc/onedrive:latest");
  assert.equal(norm("docker.io/croc/onedrive:latest"), "docker.io/croc/onedrive:latest");
  assert.equal(norm("index.docker.io/library/busybox:1.36"), "docker.io/library/busybox:1.36");
  assert.equal(norm("127.0.0.1:5000/test/busybox:v1"), "127.0.0.1:5000/test/busybox:v1");
  assert.equal(norm("localhost/app"), "localhost/app:latest");
  assert.equal(norm("quay.io/a/b/c:t"), "quay.io/a/b/c:t");
  assert.equal(norm(`busybox@${D}`), `docker.io/library/busybox@${D}`);
  assert.equal(norm(`busybox:1@${D}`), `docker.io/library/busybox:1@${D}`);
  assert.equal(registryHost("docker.io"), "registry-1.docker.io");
  assert.equal(registryHost("127.0.0.1:5000"), "127.0.0.1:5000");
});

test("invalid references are refused with the reason", () => {
  assert.throws(() => parseReference(""), /is empty/);
  assert.throws(() => parseReference("Ubuntu"), /repository component "Ubuntu"/);
  assert.throws(() => parseReference("busybox:-x"), /tag "-x"/);
  assert.throws(() => parseReference("busybox@sha256:abc"), /digest "sha256:abc"/);
  assert.throws(() => parseReference("a//b"), /repository component ""/);
});
