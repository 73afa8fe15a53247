// Checks Cypress test files without Cypress (its binary cannot be installed here): each file
// must parse with the TypeScript compiler API (as JavaScript, ES module) and pass ESLint with
// eslint:recommended and eslint-plugin-cypress's recommended rules, with Cypress's and
// Mocha's globals.
//
// Usage: node check_cypress.mjs FILE...
// Prints one JSON object {"files": N, "problems": [{file, line, column, rule, message}]}
// and exits 1 when there is any problem.

import { readFileSync } from "node:fs";
import { basename } from "node:path";
import js from "@eslint/js";
import { Linter } from "eslint";
import cypress from "eslint-plugin-cypress";
import ts from "typescript";

const CONFIG = [
  js.configs.recommended,
  cypress.configs.recommended,
  { languageOptions: { ecmaVersion: "latest", sourceType: "module" } },
];

function parseProblems(file, text) {
  const { diagnostics } = ts.transpileModule(text, {
    fileName: file,
    reportDiagnostics: true,
    compilerOptions: { allowJs: true, target: ts.ScriptTarget.ES2022, module: ts.ModuleKind.ESNext },
  });
  return (diagnostics ?? []).map((d) => {
    const at = d.file && d.start !== undefined ? d.file.getLineAndCharacterOfPosition(d.start) : { line: 0, character: 0 };
    return { file, line: at.line + 1, column: at.character + 1, rule: `typescript/TS${d.code}`,
             message: ts.flattenDiagnosticMessageText(d.messageText, "\n") };
  });
}

function lintProblems(linter, file, text) {
  // The name only picks the config (flat configs match files under the working directory).
  const name = basename(file).endsWith(".js") ? basename(file) : `${basename(file)}.js`;
  return linter.verify(text, CONFIG, { filename: name }).map((m) => ({
    file, line: m.line, column: m.column, rule: m.ruleId ?? "eslint/parse", message: m.message,
  }));
}

const files = process.argv.slice(2);
if (!files.length) {
  console.error("usage: node check_cypress.mjs FILE...");
  process.exit(2);
}
const linter = new Linter({ configType: "flat" });
const problems = [];
for (const file of files) {
  const text = readFileSync(file, "utf8");
  problems.push(...parseProblems(file, text), ...lintProblems(linter, file, text));
}
console.log(JSON.stringify({ files: files.length, problems }));
process.exit(problems.length ? 1 : 0);
