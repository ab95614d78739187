// Where a field of a YAML document is, for a problem found after parsing: `routes[2].destinations[0]` → line, column.
import { LineCounter, parseDocument, type Node } from "yaml";

/** Parses a field path of the form `a.b[2].c` into the keys and indexes `yaml` walks. */
export function fieldPath(field: string): Array<string | number> {
  const path: Array<string | number> = [];
  for (const m of field.matchAll(/([^.[\]]+)|\[(\d+)\]/g)) path.push(m[2] !== undefined ? Number(m[2]) : (m[1] as string));
  return path;
}

/** 1-based line and column of the field in the text, or undefined when the text has no such field. */
export function locateYamlField(text: string, field: string): { line: number; column: number } | undefined {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false });
  const node = doc.getIn(fieldPath(field), true) as Node | undefined;
  const offset = node?.range?.[0];
  if (offset === undefined) return undefined;
  const { line, col } = lineCounter.linePos(offset);
  return { line, column: col };
}
