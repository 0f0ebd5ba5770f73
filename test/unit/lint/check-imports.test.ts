import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, test } from "node:test";
import { fileURLToPath } from "node:url";
import { type ImportViolation, checkImports, formatViolation } from "../../../scripts/check-imports.js";

const CHECKER = fileURLToPath(new URL("../../../scripts/check-imports.ts", import.meta.url));
const roots: string[] = [];
after(() => {
  for (const root of roots) rmSync(root, { recursive: true, force: true });
});

/** A project root in a temp dir holding the given files (paths relative to the root). */
function fixture(files: Record<string, string>): string {
  const root = mkdtempSync(path.join(tmpdir(), "check-imports-"));
  roots.push(root);
  for (const [name, text] of Object.entries(files)) {
    const full = path.join(root, name);
    mkdirSync(path.dirname(full), { recursive: true });
    writeFileSync(full, text);
  }
  return root;
}

/** A folder util/ with a public index and an inner file, and what api/ (a higher layer) writes to use it. */
function tree(highUser: string, extra: Record<string, string> = {}): string {
  return fixture({
    "src/util/index.ts": 'export { inner, type Inner } from "./inner.js";\n',
    "src/util/inner.ts": "export const inner = 1;\nexport type Inner = number;\n",
    "src/api/user.ts": highUser,
    "src/api/sibling.ts": "export const sibling = 2;\n",
    ...extra,
  });
}


function kinds(violations: ImportViolation[]): string[] {
  return violations.map((v) => `${v.file}:${v.line}:${v.kind}`);
}

test("an import through the other folder's index.ts, and of a file of the same folder, passes", () => {
  const root = tree('import { inner } from "../util/index.js";\nimport { sibling } from "./sibling.js";\nexport const x = inner + sibling;\n');
  assert.deepEqual(checkImports(root), []);
  const run = spawnSync(process.execPath, ["--import", "tsx", CHECKER, root], { encoding: "utf8" });
  assert.equal(run.status, 0, run.stderr);
});

test("an import that bypasses the other folder's index.ts fails, naming the file, the line and the index", () => {
  const root = tree('import { sibling } from "./sibling.js";\nimport { inner } from "../util/inner.js";\nexport const x = inner + sibling;\n');
  const violations = checkImports(root);
  assert.deepEqual(kinds(violations), ["src/api/user.ts:2:bypasses-index"]);
  assert.equal(
    formatViolation(violations[0]!),
    'src/api/user.ts:2: imports src/util/inner.ts ("../util/inner.js"); import it through src/util/index.ts',
  );
  const run = spawnSync(process.execPath, ["--import", "tsx", CHECKER, root], { encoding: "utf8" });
  assert.equal(run.status, 1);
  assert.match(run.stderr, /^src\/api\/user\.ts:2: imports src\/util\/inner\.ts .*import it through src\/util\/index\.ts$/m);
});

test("type-only imports, re-exports, dynamic import() and import() types are checked too", () => {
  const root = tree(
    [
      'import type { Inner } from "../util/inner.js";',
      'export { inner } from "../util/inner.js";',
      'export const load = () => import("../util/inner.js");',
      'export type T = import("../util/inner.js").Inner | Inner;',
      "",
    ].join("\n"),
  );
  assert.deepEqual(kinds(checkImports(root)), [
    "src/api/user.ts:1:bypasses-index",
    "src/api/user.ts:2:bypasses-index",
    "src/api/user.ts:3:bypasses-index",
    "src/api/user.ts:4:bypasses-index",
  ]);
});

test("a sub-folder is a folder of its own: its parent may not reach into it, nor it into its parent", () => {
  const root = tree('export { deep } from "../util/sub/deep.js";\n', {
    "src/util/sub/deep.ts": 'import { inner } from "../inner.js";\nexport const deep = inner;\n',
    "src/util/sub/index.ts": 'export { deep } from "./deep.js";\n',
  });
  assert.deepEqual(kinds(checkImports(root)), ["src/api/user.ts:1:bypasses-index", "src/util/sub/deep.ts:1:bypasses-index"]);
});

test("generated code under src/protos/gen may be imported file by file", () => {
  const root = tree('import { Msg } from "../protos/gen/gossip/message.pb.js";\nexport const m = Msg;\n', {
    "src/protos/gen/gossip/message.pb.ts": 'import { Env } from "../common/common.pb.js";\nexport const Msg = Env;\n',
    "src/protos/gen/common/common.pb.ts": "export const Env = 0;\n",
  });
  assert.deepEqual(checkImports(root), []);
});

test("tests and benches are not checked: they may reach inside a folder", () => {
  const root = tree('export { inner } from "../util/index.js";\n', {
    "test/util.test.ts": 'import { inner } from "../src/util/inner.js";\nexport const t = inner;\n',
    "bench/util.ts": 'import { inner } from "../src/util/inner.js";\nexport const b = inner;\n',
  });
  assert.deepEqual(checkImports(root), []);
});

test("dependencies point down the layers; a folder without a layer is reported", () => {
  const root = tree('export { inner } from "../util/index.js";\n', {
    "src/util/up.ts": 'import { x } from "../api/index.js";\nexport const up = x;\n',
    "src/api/index.ts": "export const x = 1;\n",
    "src/stray/index.ts": 'export { inner } from "../util/index.js";\n',
  });
  const violations = checkImports(root);
  assert.deepEqual(kinds(violations), ["src/stray/index.ts:1:unplaced", "src/util/up.ts:1:layer"]);
  assert.match(formatViolation(violations[0]!), /src\/stray has no place in LAYERS/);
  assert.match(formatViolation(violations[1]!), /src\/util \(layer 0\) may import only lower layers, and src\/api is layer 2/);
});
