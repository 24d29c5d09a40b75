/**
 * Splits a collector's stderr into lines of at most `maxLine` characters: a collector that never
 * ends a line cannot make the coordinator buffer without bound (the excess is cut, not kept).
 */
export function lineSplitter(maxLine: number): (chunk: string) => string[] {
  let pending = '';
  return (chunk) => {
    pending += chunk;
    const lines: string[] = [];
    let newline = pending.indexOf('\n');
    while (newline >= 0) {
      const line = pending.slice(0, newline).trimEnd();
      pending = pending.slice(newline + 1);
      if (line !== '') lines.push(line.slice(0, maxLine));
      newline = pending.indexOf('\n');
    }
    if (pending.length > maxLine) {
      lines.push(pending.slice(0, maxLine));
      pending = '';
    }
    return lines;
  };
}
