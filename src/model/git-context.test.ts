import assert from "node:assert/strict";
import { test } from "node:test";
import { isRemoteContext, parseGitContext } from "./git-context.js";

test("a git context as docker writes one: the URL, then a ref and a directory after #", () => {
  assert.deepEqual(parseGitContext("https://github.com/FreshRSS/FreshRSS.git#latest"), {
    url: "https://github.com/FreshRSS/FreshRSS.git",
    ref: "latest",
  });
  assert.deepEqual(parseGitContext("git@github.com:org/app.git#v1.2:docker/web"), {
    url: "git@github.com:org/app.git",
    ref: "v1.2",
    subdir: "docker/web",
  });
  assert.deepEqual(parseGitContext("git://127.0.0.1:9418/app.git#:sub/"), {
    url: "git://127.0.0.1:9418/app.git",
    subdir: "sub",
  });
  assert.deepEqual(parseGitContext("git+ssh://git@host/app"), { url: "ssh://git@host/app" });
  assert.ok(isRemoteContext("git@github.com:org/app.git"));
  assert.ok(!isRemoteContext("./app"), "a path");
  assert.ok(!isRemoteContext("/srv/user@host:dir"), "an absolute path with @ and :");
});

test("what git must never be given: an archive URL, a password, an option as a ref, a way out", () => {
  const problem = (ctx: string) => {
    const g = parseGitContext(ctx);
    return "problem" in g ? g.problem : "";
  };
  assert.match(problem("https://example.com/app.tar.gz"), /does not end in \.git/);
  assert.match(problem("https://u:hunter2@example.com/app.git"), /password in its URL/);
  assert.doesNotMatch(problem("https://u:hunter2@example.com/app.git"), /hunter2/);
  assert.equal(problem("https://token@example.com/app.git"), "", "a user name alone is fine");
  assert.match(
    problem("https://example.com/app.git#--upload-pack=x"),
    /not a branch, tag or commit/,
  );
  assert.match(problem("https://example.com/app.git#main:../../etc"), /leaves the repository/);
  assert.match(problem("ftp://example.com/app.git"), /is a ftp:\/\/ URL/);
});
