// Builds the Debian package, dist/deb/railyard_<version>_<arch>.deb, with Debian's dpkg-deb, from
// what `npm run build` made. Run it as `npm run deb`; `--out DIR` puts the .deb elsewhere.
//
// The package carries its own Node.js: Debian 12's nodejs is 18 and railyard needs 20, so a
// package that depended on nodejs could not be installed from Debian alone. It is the Node that
// runs this script (stripped), under /usr/lib/railyard, beside the same CommonJS bundle that
// bin/railyard.cjs loads in a clone, so the package runs exactly the code the tests ran. (Node's
// single-executable form was measured too: see docs/decisions/22.)
//
//   /usr/bin/railyard   (sh: exec /usr/lib/railyard/node /usr/lib/railyard/bin/railyard.cjs)
//   /usr/lib/railyard/{node,package.json,bin/railyard.cjs,dist/cli/railyard.cjs}
//   /usr/lib/railyard/dist/src/config/define.js   (what a config's "railyard" import is)
//   /usr/lib/railyard/node_modules/{yaml,esbuild,@esbuild/<platform>}   (what the bundle loads)
//   /usr/share/{bash-completion/completions,zsh/vendor-completions,man/man1,doc/railyard}
import { execFileSync, spawnSync } from "node:child_process";
import {
  chmodSync,
  cpSync,
  existsSync,
  mkdirSync,
  readFileSync,
  readdirSync,
  rmSync,
  lstatSync,
  writeFileSync,
} from "node:fs";
import { createHash } from "node:crypto";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { gzipSync } from "node:zlib";

const repo = dirname(dirname(fileURLToPath(import.meta.url)));
const { values: opts } = parseArgs({
  options: { out: { type: "string", default: join(repo, "dist/deb") }, help: { type: "boolean" } },
});
if (opts.help) {
  process.stdout.write(
    "Usage: node scripts/deb.mjs [--out DIR]\nBuilds railyard_<version>_<arch>.deb from dist/ (run npm run build first).\n",
  );
  process.exit(0);
}

const fail = (msg) => {
  process.stderr.write(`deb: ${msg}\n`);
  process.exit(1);
};
const run = (cmd, args, o = {}) =>
  execFileSync(cmd, args, { encoding: "utf8", stdio: ["ignore", "pipe", "inherit"], ...o });
// The clone's railyard, which prints what the package holds of it (version, completion scripts).
const cli = (...args) => run(process.execPath, [join(repo, "bin/railyard.cjs"), ...args]);
// The Debian tools this needs, with the package that has each (setup.sh installs them).
for (const [tool, from] of [
  ["dpkg-deb", "dpkg"],
  ["dpkg-shlibdeps", "dpkg-dev"],
  ["strip", "binutils"],
])
  if (spawnSync(tool, ["--version"]).error) fail(`${tool} not found: apt-get install ${from}`);
// Progress on a terminal: the whole takes about half a minute, most of it dpkg-deb's xz.
const step = (what) => {
  if (process.stderr.isTTY) process.stderr.write(`deb: ${what}\n`);
};

const pkg = JSON.parse(readFileSync(join(repo, "package.json"), "utf8"));
const bundle = join(repo, "dist/cli/railyard.cjs");
if (!existsSync(bundle) || !existsSync(join(repo, "dist/man/man1/railyard.1")))
  fail("dist/ has no bundle or man pages: run npm run build first");

// Debian's names for the architectures Node is built for.
const ARCH = { x64: "amd64", arm64: "arm64", arm: "armhf", ppc64: "ppc64el", s390x: "s390x" };
const arch = ARCH[process.arch] ?? fail(`no Debian architecture for Node's ${process.arch}`);
const esbuildPlatform = `@esbuild/linux-${process.arch}`;

// One date for everything that carries one: the commit's, so the same commit makes the same
// package (SOURCE_DATE_EPOCH, as Debian's reproducible builds set it, wins).
let epoch = Number(process.env.SOURCE_DATE_EPOCH);
if (!Number.isInteger(epoch)) {
  try {
    epoch = Number(run("git", ["-C", repo, "log", "-1", "--format=%ct"]).trim());
  } catch {
    epoch = Math.floor(Date.now() / 1000);
  }
}
const commit = /commit ([0-9a-f]+(?:-dirty)?|unknown)/.exec(cli("--version"))?.[1];

// The maintainer, as Debian's own tools (dch) find it: DEBFULLNAME and DEBEMAIL, else the
// author of the commit built.
let maintainer = process.env.DEBEMAIL
  ? `${process.env.DEBFULLNAME ?? "railyard developers"} <${process.env.DEBEMAIL}>`
  : undefined;
if (!maintainer) {
  try {
    maintainer = run("git", ["-C", repo, "log", "-1", "--format=%an <%ae>"]).trim();
  } catch {
    fail("no maintainer: set DEBFULLNAME and DEBEMAIL");
  }
}

const name = `railyard_${pkg.version}_${arch}`;
const stage = join(opts.out, name);
rmSync(stage, { recursive: true, force: true });
const lib = join(stage, "usr/lib/railyard");
const doc = join(stage, "usr/share/doc/railyard");
mkdirSync(lib, { recursive: true }); // strip writes into it; put() makes the other directories
const put = (path, text, mode = 0o644) => {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, text);
  chmodSync(path, mode);
};

step(`staging ${name} in ${stage}`);
// --- the program ---------------------------------------------------------------------------
// Node stripped as Debian strips executables (dh_strip): its symbols for native addons stay in
// the dynamic symbol table.
run("strip", [
  "--remove-section=.comment",
  "--remove-section=.note",
  "-o",
  join(lib, "node"),
  process.execPath,
]);
chmodSync(join(lib, "node"), 0o755);
// The command: a shell script that runs this Node on the clone's bin/railyard.cjs (as a module,
// without its #! line). A #! line naming /usr/lib/railyard/node would save the shell's exec
// (1-3 ms), but lintian makes any node #! line other than /usr/bin/node (Debian's nodejs) an error.
put(
  join(stage, "usr/bin/railyard"),
  '#!/bin/sh\n# railyard, run by its own Node.js (see /usr/share/doc/railyard/copyright).\nexec /usr/lib/railyard/node /usr/lib/railyard/bin/railyard.cjs "$@"\n',
  0o755,
);
put(
  join(lib, "bin/railyard.cjs"),
  readFileSync(join(repo, "bin/railyard.cjs"), "utf8").replace(/^#!.*\n/, ""),
);
// The bundle, without its source map's link (the map stays in the clone).
put(
  join(lib, "dist/cli/railyard.cjs"),
  readFileSync(bundle, "utf8").replace(/\n\/\/# sourceMappingURL=\S+\s*$/, "\n"),
);
// What a config's `import { defineConfig } from "railyard"` resolves to (config/compile.ts).
put(join(lib, "dist/src/config/define.js"), readFileSync(join(repo, "dist/src/config/define.js")));
// package.json: how the bundle finds its root and version (util/package.ts).
put(
  join(lib, "package.json"),
  `${JSON.stringify({ name: pkg.name, version: pkg.version, private: true }, null, 2)}\n`,
);
// The two packages the bundle leaves outside (scripts/bundle.mjs): yaml, and esbuild's API with
// its one binary. Their license texts go into the copyright file instead.
const nodeModules = join(repo, "node_modules");
const copyPackage = (name, parts) => {
  for (const p of ["package.json", ...parts])
    cpSync(join(nodeModules, name, p), join(lib, "node_modules", name, p), { recursive: true });
};
copyPackage("yaml", ["dist"]);
copyPackage("esbuild", ["lib/main.js"]);
copyPackage(esbuildPlatform, ["bin/esbuild"]);

// --- shell completion and man pages --------------------------------------------------------
put(join(stage, "usr/share/bash-completion/completions/railyard"), cli("completion", "bash"));
put(join(stage, "usr/share/zsh/vendor-completions/_railyard"), cli("completion", "zsh"));
const manDir = join(repo, "dist/man/man1");
for (const page of readdirSync(manDir))
  put(
    join(stage, "usr/share/man/man1", `${page}.gz`),
    gzipSync(readFileSync(join(manDir, page)), { level: 9 }),
  );

// --- documentation: copyright and changelog --------------------------------------------------
const licenseText = (file) =>
  readFileSync(file, "utf8")
    .trimEnd()
    .split("\n")
    .map((l) => (l.trim() === "" ? " ." : ` ${l}`))
    .join("\n");
const nodeLicense = [
  join(dirname(dirname(process.execPath)), "share/doc/nodejs/LICENSE"),
  join(dirname(dirname(process.execPath)), "share/doc/node/LICENSE"),
  join(dirname(dirname(process.execPath)), "LICENSE"),
].find((f) => existsSync(f));
if (!nodeLicense) fail(`no LICENSE file found for the Node.js at ${process.execPath}`);
put(join(doc, "LICENSE.nodejs.gz"), gzipSync(readFileSync(nodeLicense), { level: 9 }));
const versions = (name) =>
  JSON.parse(readFileSync(join(nodeModules, name, "package.json"), "utf8")).version;
put(
  join(doc, "copyright"),
  `Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/
Upstream-Name: railyard

Files: *
Copyright: the railyard developers
License: Apache-2.0

Files: usr/lib/railyard/node
Copyright: Node.js contributors and others (Node.js ${process.version})
License: Expat
Comment: Node.js has many other libraries inside, each under its own license: Node.js's
 LICENSE file, which has them all, is /usr/share/doc/railyard/LICENSE.nodejs.gz.

Files: usr/lib/railyard/node_modules/esbuild/* usr/lib/railyard/node_modules/@esbuild/*
Copyright: 2020 Evan Wallace (esbuild ${versions("esbuild")})
License: Expat

Files: usr/lib/railyard/node_modules/yaml/*
Copyright: Eemeli Aro (yaml ${versions("yaml")})
License: ISC
${licenseText(join(nodeModules, "yaml/LICENSE"))}

Files: usr/lib/railyard/dist/cli/railyard.cjs
Copyright: the railyard developers; Fabian Hiller (valibot ${versions("valibot")});
 Balena Ltd. and Docker, Inc. (@balena/dockerignore ${versions("@balena/dockerignore")})
License: Apache-2.0 and Expat
Comment: railyard's own code, with valibot (Expat) and @balena/dockerignore (Apache-2.0)
 bundled into it.

License: Expat
 Permission is hereby granted, free of charge, to any person obtaining a copy of this
 software and associated documentation files (the "Software"), to deal in the Software
 without restriction, including without limitation the rights to use, copy, modify, merge,
 publish, distribute, sublicense, and/or sell copies of the Software, and to permit persons
 to whom the Software is furnished to do so, subject to the following conditions:
 .
 The above copyright notice and this permission notice shall be included in all copies or
 substantial portions of the Software.
 .
 THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR IMPLIED,
 INCLUDING BUT NOT LIMITED TO THE WARRANTIES OF MERCHANTABILITY, FITNESS FOR A PARTICULAR
 PURPOSE AND NONINFRINGEMENT. IN NO EVENT SHALL THE AUTHORS OR COPYRIGHT HOLDERS BE LIABLE
 FOR ANY CLAIM, DAMAGES OR OTHER LIABILITY, WHETHER IN AN ACTION OF CONTRACT, TORT OR
 OTHERWISE, ARISING FROM, OUT OF OR IN CONNECTION WITH THE SOFTWARE OR THE USE OR OTHER
 DEALINGS IN THE SOFTWARE.

License: Apache-2.0
 Licensed under the Apache License, Version 2.0 (the "License"); you may not use this file
 except in compliance with the License. You may obtain a copy of the License at
 .
 http://www.apache.org/licenses/LICENSE-2.0
 .
 Unless required by applicable law or agreed to in writing, software distributed under the
 License is distributed on an "AS IS" BASIS, WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND,
 either express or implied. See the License for the specific language governing permissions
 and limitations under the License.
 .
 On Debian systems, the full text of the Apache License 2.0 is in
 /usr/share/common-licenses/Apache-2.0.
`,
);
const rfc2822 = new Date(epoch * 1000).toUTCString().replace(/GMT$/, "+0000");
put(
  join(doc, "changelog.gz"),
  gzipSync(
    `railyard (${pkg.version}) unstable; urgency=medium\n\n  * Built from commit ${commit}.\n\n -- ${maintainer}  ${rfc2822}\n`,
    { level: 9 },
  ),
);

// Tags lintian is right to raise in general and wrong about here, each with why.
put(
  join(stage, "usr/share/lintian/overrides/railyard"),
  `# esbuild (which compiles railyard.config.ts) is a Go program, and Go links statically; lintian
# exempts Go binaries only when it sees them built from a source package.
railyard: statically-linked-binary [usr/lib/railyard/node_modules/${esbuildPlatform}/bin/esbuild]
# The package carries its own Node.js (Debian 12's is 18; railyard needs 20), which has its
# zlib inside, as every Node.js release build does.
railyard: embedded-library zlib [usr/lib/railyard/node]
`,
);

// --- control ---------------------------------------------------------------------------------
// Shared libraries: what Node links against, as dpkg-shlibdeps names them (esbuild is static).
const shlibs = (() => {
  const tmp = join(opts.out, `${name}.shlibdeps`);
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(join(tmp, "debian"), { recursive: true });
  writeFileSync(
    join(tmp, "debian/control"),
    "Source: railyard\n\nPackage: railyard\nArchitecture: any\n",
  );
  const out = run("dpkg-shlibdeps", ["-O", "--warnings=0", join(lib, "node")], { cwd: tmp });
  rmSync(tmp, { recursive: true, force: true });
  return /shlibs:Depends=(.*)/.exec(out)?.[1] ?? fail(`dpkg-shlibdeps said: ${out}`);
})();

// What railyard runs: a runtime (runc, or crun where the cgroup layout allows), systemd to
// supervise, iproute2 and nftables for private and named networks, uidmap for rootless, mount
// for the image overlay. Recommended: zstd layers, tini (init: true), pasta (rootless network),
// a builder for build:. Suggested: the other backends, and git for a build: from a repository.
const depends = [shlibs, "runc | crun", "systemd", "iproute2", "nftables", "uidmap", "mount"];
const recommends = ["zstd", "tini", "passt", "buildah | podman"];
const suggests = ["podman", "docker.io", "git"];

// Every file the package installs, read once: its size for Installed-Size, its md5 for md5sums
// (as dpkg --verify and debsums read them).
const installed = readdirSync(join(stage, "usr"), { recursive: true })
  .map((p) => join("usr", p))
  .filter((p) => lstatSync(join(stage, p)).isFile())
  .sort();
let installedKiB = 0;
const md5 = installed.map((p) => {
  const bytes = readFileSync(join(stage, p));
  installedKiB += Math.ceil(bytes.length / 1024);
  return `${createHash("md5").update(bytes).digest("hex")}  ${p}`;
});

put(
  join(stage, "DEBIAN/control"),
  `Package: railyard
Version: ${pkg.version}
Architecture: ${arch}
Maintainer: ${maintainer}
Installed-Size: ${installedKiB}
Depends: ${depends.join(", ")}
Recommends: ${recommends.join(", ")}
Suggests: ${suggests.join(", ")}
Section: admin
Priority: optional
Description: containers as systemd services, from one declarative config
 railyard runs containerised applications on one Linux host as supervised
 systemd services, with no container daemon. One typed config file
 (railyard.config.ts, JSON or YAML) becomes OCI runtime bundles and systemd
 units run with runc or crun, activated as numbered generations that switch
 atomically and roll back.
 .
 The package carries its own Node.js runtime under /usr/lib/railyard.
`,
);

// Removal leaves what railyard set up: say so, and how to remove that too.
put(
  join(stage, "DEBIAN/postrm"),
  `#!/bin/sh
set -e
case "$1" in
remove | purge)
	cat <<'EOF'
railyard: the package is removed; what railyard set up is left as it was:
  - its services (railyard-*.service) keep running and start at boot: they run runc, not railyard;
  - its state (generations, images, bundles) stays in /var/lib/railyard, and a rootless
    user's in ~/.local/state/railyard;
  - a railyard-update*.timer, if one was installed, fails until railyard is installed again.
To stop those too, install railyard again and run railyard down for each config (or
systemctl disable --now the railyard-* units and delete their links in /etc/systemd/system);
the state directories are then yours to delete.
EOF
	;;
esac
exit 0
`,
  0o755,
);

put(join(stage, "DEBIAN/md5sums"), `${md5.join("\n")}\n`);

const deb = join(opts.out, `${name}.deb`);
step(`compressing ${installedKiB} KiB into ${deb} with dpkg-deb`);
run("dpkg-deb", ["--root-owner-group", "--build", stage, deb], {
  env: { ...process.env, SOURCE_DATE_EPOCH: String(epoch) },
  stdio: ["ignore", "ignore", "inherit"],
});
rmSync(stage, { recursive: true, force: true });
process.stdout.write(`${deb}\n`);
