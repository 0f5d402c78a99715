/**
 * Source rewrites applied before tslab compiles a cell, for tslab bugs that cannot be fixed from outside its converter.
 *
 * Shorthand properties: tslab rewrites references to earlier cells' variables as `exports.x`, but not inside `{ x }`,
 * so `train({ epochs })` with `epochs` from the parameters cell throws "epochs is not defined". Writing the shorthand
 * out (`{ epochs: epochs }`) is equivalent and sidesteps it.
 */
import * as ts from "@tslab/typescript-for-tslab";

/** Expands `{ a, b }` object-literal shorthands to `{ a: a, b: b }`; returns the source unchanged when there are none. */
export function expandShorthandProperties(src: string): string {
  if (!src.includes("{")) return src;
  const sf = ts.createSourceFile("cell.ts", src, ts.ScriptTarget.Latest, true, ts.ScriptKind.TS);
  const inserts: { at: number; text: string }[] = [];
  const visit = (node: ts.Node): void => {
    if (ts.isShorthandPropertyAssignment(node) && node.objectAssignmentInitializer === undefined) {
      inserts.push({ at: node.name.end, text: `: ${node.name.text}` });
    }
    ts.forEachChild(node, visit);
  };
  visit(sf);
  if (inserts.length === 0) return src;
  let out = src;
  for (const i of inserts.sort((a, b) => b.at - a.at)) out = out.slice(0, i.at) + i.text + out.slice(i.at);
  return out;
}
