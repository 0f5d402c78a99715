/**
 * inspect_request (Shift+Tab): TypeScript quick info for the name under the cursor, or, when the cursor is inside a
 * call's parentheses (`peftlab.loraScaling(|`, `tf.tensor([1, 2], |`), for the function being called, as IPython
 * does (calls take priority). Detail 0 gives the signature and the TSDoc summary with its @param lines; detail 1 adds every other tag
 * (@returns, @example, @see …).
 */
import * as ts from "@tslab/typescript-for-tslab";

/** The subset of ts.QuickInfo the kernel prints. */
export interface QuickInfo {
  displayParts?: { text: string }[];
  documentation?: { text: string }[];
  tags?: { name: string; text?: { text: string }[] }[];
}

/** Looks up quick info at a position of the cell (tslab's executor.inspect). */
export type QuickInfoAt = (code: string, pos: number) => QuickInfo | undefined;

/**
 * The position inside the callee's name of the innermost call or `new` whose argument list holds `cursor`, or
 * undefined outside any call. Works on unfinished code (`f(` with no closing parenthesis).
 */
export function calleePosition(code: string, cursor: number): number | undefined {
  const sf = ts.createSourceFile("cell.ts", code, ts.ScriptTarget.Latest, true, ts.ScriptKind.TS);
  let found: number | undefined;
  const visit = (n: ts.Node): void => {
    if ((ts.isCallExpression(n) || ts.isNewExpression(n)) && n.arguments !== undefined) {
      const args = n.arguments;
      // args.pos is just after "("; the call runs to just before its ")", or to the end of the text without one.
      const end = code[n.end - 1] === ")" ? n.end - 1 : code.length;
      if (cursor >= args.pos && cursor <= end && code[args.pos - 1] === "(") {
        const callee = ts.isPropertyAccessExpression(n.expression) ? n.expression.name : n.expression;
        found = callee.end - 1;
      }
    }
    n.forEachChild(visit); // inner calls are visited later and win
  };
  visit(sf);
  return found;
}

/** Text of one TSDoc tag, as TypeScript's hover shows it. */
function tagLine(tag: { name: string; text?: { text: string }[] }): string {
  const text = (tag.text ?? []).map((t) => t.text).join("");
  return tag.name === "param" ? `@param ${text}` : `@${tag.name}${text ? ` ${text}` : ""}`;
}

/** Formats quick info for a frontend's tooltip (plain text). */
export function formatQuickInfo(info: QuickInfo, detail: number): string {
  const sig = (info.displayParts ?? []).map((p) => p.text).join("");
  const doc = (info.documentation ?? []).map((d) => d.text).join("");
  const tags = (info.tags ?? []).filter((t) => detail >= 1 || t.name === "param").map(tagLine);
  return [sig, doc, tags.join("\n")].filter((s) => s.trim() !== "").join("\n\n");
}

/** True when the quick info names something (TypeScript answers `any` for unknown names in cells). */
function useful(info: QuickInfo | undefined): info is QuickInfo {
  return info !== undefined && (info.displayParts ?? []).length > 0;
}

/** The inspect_reply content for a request. */
export function inspectReply(
  at: QuickInfoAt,
  code: string,
  cursor: number,
  detail = 0,
): { status: "ok"; found: boolean; data: Record<string, string>; metadata: Record<string, unknown> } {
  // As IPython's token_at_cursor: anywhere inside a call's parentheses the callee wins; elsewhere, the name under
  // (or just before) the cursor.
  const inCall = calleePosition(code, cursor);
  const tries = inCall !== undefined ? [inCall] : [cursor, cursor - 1].filter((p) => p >= 0 && p <= code.length);
  let info: QuickInfo | undefined;
  for (const p of tries) {
    info = at(code, p);
    if (useful(info)) break;
  }
  if (!useful(info)) return { status: "ok", found: false, data: {}, metadata: {} };
  return { status: "ok", found: true, data: { "text/plain": formatQuickInfo(info, detail) }, metadata: {} };
}
