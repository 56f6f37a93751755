/**
 * Tokens of EMQX's rule SQL. Every token keeps its line and column so that a syntax error
 * names where it is, as a user fixing a rule in vireo.yaml or the API needs.
 */

export type TokenKind = 'ident' | 'number' | 'string' | 'op' | 'eof';

export interface Token {
  kind: TokenKind;
  /** The identifier (as written), the operator, the string's value, or the number's text. */
  text: string;
  /** 0-based offset in the statement. */
  offset: number;
  line: number;
  column: number;
}

/** A statement refused: where (1-based line and column) and why. */
export class RuleSqlError extends Error {
  constructor(
    readonly reason: string,
    readonly line: number,
    readonly column: number,
  ) {
    super(`syntax error at line ${line}, column ${column}: ${reason}`);
    this.name = 'RuleSqlError';
  }
}

const OPS = ['<=', '>=', '<>', '!=', '=~', '=', '<', '>', '+', '-', '*', '/', '(', ')', ',', '.', '[', ']'];

const isIdentStart = (c: string) => /[A-Za-z_]/.test(c);
const isIdentPart = (c: string) => /[A-Za-z0-9_]/.test(c);
const isDigit = (c: string) => c >= '0' && c <= '9';

export function tokenize(sql: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  let line = 1;
  let lineStart = 0;
  const at = (offset: number) => ({ offset, line, column: offset - lineStart + 1 });
  const fail = (reason: string, offset: number): never => {
    const p = at(offset);
    throw new RuleSqlError(reason, p.line, p.column);
  };
  while (i < sql.length) {
    const c = sql[i]!;
    if (c === '\n') {
      i++;
      line++;
      lineStart = i;
      continue;
    }
    if (c === ' ' || c === '\t' || c === '\r') {
      i++;
      continue;
    }
    // `-- comment` to the end of the line
    if (c === '-' && sql[i + 1] === '-') {
      while (i < sql.length && sql[i] !== '\n') i++;
      continue;
    }
    const start = i;
    if (isIdentStart(c)) {
      while (i < sql.length && isIdentPart(sql[i]!)) i++;
      tokens.push({ kind: 'ident', text: sql.slice(start, i), ...at(start) });
      continue;
    }
    if (isDigit(c)) {
      while (i < sql.length && isDigit(sql[i]!)) i++;
      // a fraction only when a digit follows the dot: `payload.a.1` stays a path
      if (sql[i] === '.' && isDigit(sql[i + 1] ?? '')) {
        i++;
        while (i < sql.length && isDigit(sql[i]!)) i++;
      }
      if ((sql[i] === 'e' || sql[i] === 'E') && /[0-9+-]/.test(sql[i + 1] ?? '')) {
        i += 2;
        while (i < sql.length && isDigit(sql[i]!)) i++;
      }
      if (i < sql.length && isIdentStart(sql[i]!)) fail(`bad number "${sql.slice(start, i + 1)}"`, start);
      tokens.push({ kind: 'number', text: sql.slice(start, i), ...at(start) });
      continue;
    }
    if (c === "'" || c === '"') {
      const pos = at(start);
      let value = '';
      i++;
      for (;;) {
        if (i >= sql.length) fail(`unterminated string (opened with ${c})`, start);
        const d = sql[i]!;
        if (d === '\\' && i + 1 < sql.length) {
          const e = sql[i + 1]!;
          value += e === 'n' ? '\n' : e === 't' ? '\t' : e === 'r' ? '\r' : e;
          i += 2;
          continue;
        }
        if (d === c) {
          // a doubled quote stands for one, as in SQL
          if (sql[i + 1] === c) {
            value += c;
            i += 2;
            continue;
          }
          i++;
          break;
        }
        if (d === '\n') {
          line++;
          lineStart = i + 1;
        }
        value += d;
        i++;
      }
      tokens.push({ kind: 'string', text: value, ...pos });
      continue;
    }
    const op = OPS.find((o) => sql.startsWith(o, i));
    if (!op) fail(`unexpected character "${c}"`, start);
    i += op!.length;
    tokens.push({ kind: 'op', text: op!, ...at(start) });
  }
  tokens.push({ kind: 'eof', text: '', ...at(i) });
  return tokens;
}
