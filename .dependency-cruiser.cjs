// The floors of src/ (ARCHITECTURE.md, "Layers"), checked by `npm run lint`: a folder imports
// only folders on lower floors (and the ground floor imports nothing above it), type-only
// imports included, and no module imports itself round a circle. Tests are exempt from the
// floors: a test may reach whatever it checks.
const FLOORS = [
  ["errors.ts", "util", "model", "host"], // the ground: everything may import it
  ["rootless"],
  ["config"],
  ["closure"],
  ["image"],
  ["cdi"],
  ["network"],
  ["runtime"],
  ["bundle"],
  ["systemd"],
  ["doctor", "generations"],
  ["export", "import"],
  ["cli", "index.ts"], // the entries: the command line and the package's API
];

const re = (names) => `^src/(${names.map((n) => n.replace(".", "\\.")).join("|")})(/|$)`;
const NOT_TESTS = "\\.test\\.ts$";

const floorRules = FLOORS.slice(0, -1).map((floor, i) => ({
  name: `floor-${i}-${floor[0].replace(".ts", "")}`,
  comment: `${floor.join(", ")} may import only the floors below them`,
  severity: "error",
  from: { path: re(floor), pathNot: NOT_TESTS },
  to: { path: re(FLOORS.slice(i + 1).flat()) },
}));

// Folders that share a floor do not import each other either.
const siblingRules = FLOORS.filter((f) => f.length > 1 && !f.includes("util")).flatMap((floor) =>
  floor.map((name) => ({
    name: `sideways-${name.replace(".ts", "")}`,
    comment: `${name} does not import the other folders of its floor`,
    severity: "error",
    from: { path: re([name]), pathNot: NOT_TESTS },
    to: { path: re(floor.filter((n) => n !== name)) },
  })),
);

module.exports = {
  forbidden: [
    {
      name: "no-circular",
      comment: "a module never imports itself round a circle",
      severity: "error",
      from: { path: "^src/" },
      to: { circular: true },
    },
    ...floorRules,
    ...siblingRules,
    {
      name: "cli-commands-apart",
      comment:
        "a command's file imports no other command's: what two share is a library below, or a cli helper",
      severity: "error",
      from: { path: "^src/cli/", pathNot: `^src/cli/(main|man|completion)\\.ts$|${NOT_TESTS}` },
      to: {
        path: "^src/cli/",
        pathNot: "^src/cli/(context|args|progress|select|switch-report)\\.ts$",
      },
    },
  ],
  options: {
    doNotFollow: { path: "node_modules" },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: "tsconfig.json" },
    includeOnly: "^src/",
  },
};
