/** Thrown for a command line that cannot be split (an unterminated quote or a trailing backslash). */
export class ShellWordsError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ShellWordsError';
  }
}

const DOUBLE_ESCAPES = new Set(['"', '\\', '$', '`', '\n']);

/**
 * Splits a command line into words as a POSIX shell would, without running a shell and without
 * expansions: blanks separate words, 'single quotes' are literal, "double quotes" keep blanks and
 * honour \\ \" \$ \`, a backslash outside quotes escapes the next character.
 */
export function splitShellWords(text: string): string[] {
  const words: string[] = [];
  let word = '';
  let inWord = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text.charAt(i);
    if (ch === ' ' || ch === '\t' || ch === '\n') {
      if (inWord) words.push(word);
      word = '';
      inWord = false;
      continue;
    }
    inWord = true;
    if (ch === "'") {
      const end = text.indexOf("'", i + 1);
      if (end < 0) throw new ShellWordsError(`unterminated ' quote in: ${text}`);
      word += text.slice(i + 1, end);
      i = end;
    } else if (ch === '"') {
      let j = i + 1;
      for (; j < text.length && text.charAt(j) !== '"'; j++) {
        const c = text.charAt(j);
        if (c === '\\' && DOUBLE_ESCAPES.has(text.charAt(j + 1))) {
          j++;
          if (text.charAt(j) !== '\n') word += text.charAt(j);
        } else word += c;
      }
      if (j >= text.length) throw new ShellWordsError(`unterminated " quote in: ${text}`);
      i = j;
    } else if (ch === '\\') {
      if (i + 1 >= text.length) throw new ShellWordsError(`trailing backslash in: ${text}`);
      i++;
      if (text.charAt(i) !== '\n') word += text.charAt(i);
    } else word += ch;
  }
  if (inWord) words.push(word);
  return words;
}
