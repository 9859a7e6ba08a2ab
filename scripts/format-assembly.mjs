// Prettier for assembly/: AssemblyScript's function decorators (@inline) are not TypeScript, so
// Prettier's parsers reject them. This formats each file with each decorator turned into a marker
// comment (/*@@inline*/) and restores it afterwards, so the core is formatted by the same Prettier and the
// same settings as the rest of the code. Usage: node scripts/format-assembly.mjs --check|--write
import { readFileSync, readdirSync, statSync, writeFileSync } from "node:fs";
import { join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import * as prettier from "prettier";

const root = fileURLToPath(new URL("..", import.meta.url));
const mode = process.argv[2];
if (mode !== "--check" && mode !== "--write") {
  console.error("usage: node scripts/format-assembly.mjs --check|--write");
  process.exit(2);
}

function files(dir) {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    return statSync(p).isDirectory() ? files(p) : p.endsWith(".ts") ? [p] : [];
  });
}

let bad = 0;
for (const file of files(join(root, "assembly"))) {
  const text = readFileSync(file, "utf8");
  const masked = text.replace(/^(\s*)@(inline|lazy|unsafe|global)\b/gm, "$1/*@@$2*/");
  if (/^\s*@\w/m.test(masked))
    throw new Error(`${relative(root, file)}: a decorator this script does not handle`);
  const options = { ...(await prettier.resolveConfig(file)), filepath: file };
  let formatted;
  try {
    formatted = (await prettier.format(masked, options)).replace(/\/\*@@(\w+)\*\//g, "@$1");
  } catch (e) {
    console.error(`${relative(root, file)}: ${String(e).split("\n")[0]}`);
    process.exit(1);
  }
  if (formatted === text) continue;
  if (mode === "--write") writeFileSync(file, formatted);
  else {
    console.error(`[warn] ${relative(root, file)}`);
    bad++;
  }
}
if (bad > 0) {
  console.error(`${bad} assembly file(s) need formatting: run npm run format`);
  process.exit(1);
}
