import assert from "node:assert/strict";
import { createServer, type IncomingHttpHeaders, type Server } from "node:http";
import { after, test } from "node:test";
import { RegistryClient, retryAfterMs } from "./registry.js";

const servers: Server[] = [];
after(() => servers.forEach((s) => s.close()));

function serve(
  handler: (url: string, h: IncomingHttpHeaders, res: import("node:http").ServerResponse) => void,
): Promise<string> {
  return new Promise((resolve) => {
    const s = createServer((req, res) => handler(req.url ?? "", req.headers, res));
    servers.push(s);
    s.listen(0, "127.0.0.1", () => {
      const a = s.address();
      resolve(`127.0.0.1:${typeof a === "object" && a ? a.port : 0}`);
    });
  });
}

test("a redirect to another origin does not carry the Authorization header", async () => {
  const seenAtCdn: (string | undefined)[] = [];
  const cdn = await serve((_u, h, res) => {
    seenAtCdn.push(h.authorization);
    res.writeHead(200).end("blob");
  });
  const seenAtRegistry: (string | undefined)[] = [];
  const reg = await serve((url, h, res) => {
    seenAtRegistry.push(h.authorization);
    if (!h.authorization) res.writeHead(401, { "www-authenticate": 'Basic realm="r"' }).end();
    else if (url.startsWith("/v2/x/blobs/"))
      res.writeHead(307, { location: `http://${cdn}/storage/blob` }).end();
    else res.writeHead(404).end();
  });
  const client = new RegistryClient(reg, {
    insecure: true,
    credentials: { username: "u", password: "p" },
  });
  const res = await client.get("/v2/x/blobs/sha256:abc", "repository:x:pull");
  assert.equal(await res.text(), "blob");
  assert.deepEqual(seenAtRegistry, [undefined, `Basic ${Buffer.from("u:p").toString("base64")}`]);
  assert.deepEqual(seenAtCdn, [undefined], "the CDN never saw the credentials");
});

test("Retry-After in seconds or as a date, capped at a minute", () => {
  assert.equal(retryAfterMs("2"), 2000);
  assert.equal(retryAfterMs(null), 1000);
  assert.equal(retryAfterMs("9999"), 60_000);
  assert.equal(retryAfterMs(new Date(10_000).toUTCString(), 5_000), 5_000);
});

test("a manifest whose bytes do not match the digest asked for is refused", async () => {
  const reg = await serve((_u, _h, res) =>
    res.writeHead(200, { "content-type": "application/vnd.oci.image.manifest.v1+json" }).end("{}"),
  );
  const client = new RegistryClient(reg, { insecure: true });
  await assert.rejects(
    client.manifest("x", `sha256:${"0".repeat(64)}`),
    /returned a manifest with digest sha256:/,
  );
  const liar = await serve((_u, _h, res) =>
    res.writeHead(200, { "docker-content-digest": `sha256:${"1".repeat(64)}` }).end("{}"),
  );
  await assert.rejects(
    new RegistryClient(liar, { insecure: true }).manifest("x", "latest"),
    /Docker-Content-Digest .* does not match/,
  );
  const huge = await serve((_u, _h, res) =>
    res.writeHead(200, { "content-length": String(5 << 20) }).end(),
  );
  await assert.rejects(
    new RegistryClient(huge, { insecure: true }).manifest("x", "latest"),
    /exceeds/,
  );
});
