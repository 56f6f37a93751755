/**
 * A recursive-descent parser for EMQX's rule SQL (the subset docs/rules.md lists):
 *
 *   statement := SELECT field {"," field} FROM string {"," string} [WHERE expr]
 *   field     := "*" | expr [AS name {"." name}]
 *   expr      := or;  or := and {OR and};  and := not {AND not};  not := NOT not | cmp
 *   cmp       := sum [(= | != | <> | < | <= | > | >= | =~) sum | [NOT] IN "(" expr {"," expr} ")"]
 *   sum       := product {(+ | -) product};  product := unary {(* | / | DIV | MOD) unary}
 *   unary     := "-" unary | postfix;  postfix := primary {"." name | "[" expr "]"}
 *   primary   := number | string | TRUE | FALSE | NULL | name "(" [args] ")" | name
 *              | "(" expr ")" | "[" [args] "]" | CASE [expr] {WHEN expr THEN expr} [ELSE expr] END
 *
 * Keywords are case-insensitive. Every error names the line and column of the token it
 * stopped at.
 */
import type { BinaryOp, Expr, Field, FromItem, Pos, Segment, Statement } from './ast.js';
import { RuleSqlError, tokenize, type Token } from './lexer.js';

const KEYWORDS = new Set(['select', 'from', 'where', 'as', 'and', 'or', 'not', 'in', 'case', 'when', 'then', 'else', 'end', 'div', 'mod', 'true', 'false', 'null']);
const COMPARE: Record<string, BinaryOp> = { '=': '=', '!=': '!=', '<>': '!=', '<': '<', '<=': '<=', '>': '>', '>=': '>=', '=~': '=~' };

export function parseRuleSql(sql: string): Statement {
  return new Parser(sql).statement();
}

class Parser {
  private readonly tokens: Token[];
  private i = 0;

  constructor(private readonly sql: string) {
    this.tokens = tokenize(sql);
  }

  statement(): Statement {
    this.expectKeyword('select');
    const fields = [this.field()];
    while (this.acceptOp(',')) fields.push(this.field());
    this.expectKeyword('from');
    const from = [this.fromItem()];
    while (this.acceptOp(',')) from.push(this.fromItem());
    let where: Expr | undefined;
    if (this.acceptKeyword('where')) where = this.expr();
    const t = this.peek();
    if (t.kind !== 'eof') this.fail(t, `unexpected ${describe(t)} after the end of the statement`);
    return { fields, from, where };
  }

  private field(): Field {
    const t = this.peek();
    if (t.kind === 'op' && t.text === '*') {
      this.i++;
      return { kind: 'star', pos: pos(t) };
    }
    const expr = this.expr();
    const end = this.peek().offset;
    const text = this.sql.slice(t.offset, end).trim();
    let alias: string[] | undefined;
    if (this.acceptKeyword('as')) {
      alias = [this.name('a name after AS')];
      while (this.acceptOp('.')) alias.push(this.name('a name after "."'));
    }
    return { kind: 'expr', expr, alias, text, pos: pos(t) };
  }

  private fromItem(): FromItem {
    const t = this.peek();
    if (t.kind !== 'string') this.fail(t, `expected a topic filter or event in quotes (e.g. "t/#", "$events/client_connected"), got ${describe(t)}`);
    this.i++;
    return { topic: t.text, pos: pos(t) };
  }

  expr(): Expr {
    return this.or();
  }

  private or(): Expr {
    let left = this.and();
    for (let t = this.peek(); this.acceptKeyword('or'); t = this.peek()) left = { kind: 'binary', op: 'or', left, right: this.and(), pos: pos(t) };
    return left;
  }

  private and(): Expr {
    let left = this.not();
    for (let t = this.peek(); this.acceptKeyword('and'); t = this.peek()) left = { kind: 'binary', op: 'and', left, right: this.not(), pos: pos(t) };
    return left;
  }

  private not(): Expr {
    const t = this.peek();
    if (this.acceptKeyword('not')) return { kind: 'not', operand: this.not(), pos: pos(t) };
    return this.compare();
  }

  private compare(): Expr {
    const left = this.sum();
    const t = this.peek();
    if (t.kind === 'op' && COMPARE[t.text]) {
      this.i++;
      return { kind: 'binary', op: COMPARE[t.text]!, left, right: this.sum(), pos: pos(t) };
    }
    const negated = isKeyword(t, 'not') && isKeyword(this.tokens[this.i + 1]!, 'in');
    if (negated) this.i++;
    if (this.acceptKeyword('in')) {
      this.expectOp('(');
      const list = [this.expr()];
      while (this.acceptOp(',')) list.push(this.expr());
      this.expectOp(')');
      return { kind: 'in', operand: left, list, negated, pos: pos(t) };
    }
    return left;
  }

  private sum(): Expr {
    let left = this.product();
    for (;;) {
      const t = this.peek();
      if (t.kind === 'op' && (t.text === '+' || t.text === '-')) {
        this.i++;
        left = { kind: 'binary', op: t.text, left, right: this.product(), pos: pos(t) };
      } else return left;
    }
  }

  private product(): Expr {
    let left = this.unary();
    for (;;) {
      const t = this.peek();
      let op: BinaryOp | undefined;
      if (t.kind === 'op' && (t.text === '*' || t.text === '/')) op = t.text;
      else if (isKeyword(t, 'div')) op = 'div';
      else if (isKeyword(t, 'mod')) op = 'mod';
      if (!op) return left;
      this.i++;
      left = { kind: 'binary', op, left, right: this.unary(), pos: pos(t) };
    }
  }

  private unary(): Expr {
    const t = this.peek();
    if (this.acceptOp('-')) {
      const operand = this.unary();
      if (operand.kind === 'literal' && typeof operand.value === 'number') return { ...operand, value: -operand.value, pos: pos(t) };
      return { kind: 'negate', operand, pos: pos(t) };
    }
    return this.postfix();
  }

  private postfix(): Expr {
    const primary = this.primary();
    const segments: Segment[] = [];
    for (;;) {
      if (this.acceptOp('.')) {
        const t = this.peek();
        // `payload.list.1` is not EMQX; numbers are only indexes in brackets
        if (t.kind === 'ident' || t.kind === 'string') {
          this.i++;
          segments.push({ key: t.text });
        } else this.fail(t, `expected a field name after ".", got ${describe(t)}`);
      } else if (this.acceptOp('[')) {
        segments.push({ index: this.expr() });
        this.expectOp(']');
      } else break;
    }
    if (segments.length === 0) return primary;
    if (primary.kind === 'path' && primary.segments.length === 0) return { ...primary, segments };
    return { kind: 'get', target: primary, segments, pos: primary.pos };
  }

  private primary(): Expr {
    const t = this.peek();
    const p = pos(t);
    switch (t.kind) {
      case 'number':
        this.i++;
        return { kind: 'literal', value: Number(t.text), pos: p };
      case 'string':
        this.i++;
        return { kind: 'literal', value: t.text, pos: p };
      case 'op':
        if (this.acceptOp('(')) {
          const e = this.expr();
          this.expectOp(')');
          return e;
        }
        if (this.acceptOp('[')) {
          const items: Expr[] = [];
          if (!this.acceptOp(']')) {
            items.push(this.expr());
            while (this.acceptOp(',')) items.push(this.expr());
            this.expectOp(']');
          }
          return { kind: 'array', items, pos: p };
        }
        return this.fail(t, `expected an expression, got ${describe(t)}`);
      case 'ident': {
        const lower = t.text.toLowerCase();
        if (lower === 'true' || lower === 'false') {
          this.i++;
          return { kind: 'literal', value: lower === 'true', pos: p };
        }
        if (lower === 'null') {
          this.i++;
          return { kind: 'literal', value: null, pos: p };
        }
        if (lower === 'case') return this.caseExpr();
        if (KEYWORDS.has(lower)) return this.fail(t, `expected an expression, got ${describe(t)}`);
        this.i++;
        if (this.acceptOp('(')) {
          const args: Expr[] = [];
          if (!this.acceptOp(')')) {
            args.push(this.expr());
            while (this.acceptOp(',')) args.push(this.expr());
            this.expectOp(')');
          }
          return { kind: 'call', name: lower, args, pos: p };
        }
        return { kind: 'path', root: t.text, segments: [], pos: p };
      }
      case 'eof':
        return this.fail(t, 'expected an expression, got the end of the statement');
    }
  }

  private caseExpr(): Expr {
    const t = this.next();
    const subject = isKeyword(this.peek(), 'when') ? undefined : this.expr();
    const whens: { when: Expr; then: Expr }[] = [];
    while (this.acceptKeyword('when')) {
      const when = this.expr();
      this.expectKeyword('then');
      whens.push({ when, then: this.expr() });
    }
    if (whens.length === 0) this.fail(this.peek(), `expected WHEN, got ${describe(this.peek())}`);
    const otherwise = this.acceptKeyword('else') ? this.expr() : undefined;
    this.expectKeyword('end');
    return { kind: 'case', subject, whens, otherwise, pos: pos(t) };
  }

  private name(what: string): string {
    const t = this.peek();
    if ((t.kind === 'ident' && !KEYWORDS.has(t.text.toLowerCase())) || t.kind === 'string') {
      this.i++;
      return t.text;
    }
    return this.fail(t, `expected ${what}, got ${describe(t)}`);
  }

  private peek(): Token {
    return this.tokens[this.i]!;
  }

  private next(): Token {
    return this.tokens[this.i++]!;
  }

  private acceptOp(op: string): boolean {
    const t = this.peek();
    if (t.kind === 'op' && t.text === op) {
      this.i++;
      return true;
    }
    return false;
  }

  private expectOp(op: string): void {
    if (!this.acceptOp(op)) this.fail(this.peek(), `expected "${op}", got ${describe(this.peek())}`);
  }

  private acceptKeyword(word: string): boolean {
    if (isKeyword(this.peek(), word)) {
      this.i++;
      return true;
    }
    return false;
  }

  private expectKeyword(word: string): void {
    if (!this.acceptKeyword(word)) this.fail(this.peek(), `expected ${word.toUpperCase()}, got ${describe(this.peek())}`);
  }

  private fail(t: Token, reason: string): never {
    throw new RuleSqlError(reason, t.line, t.column);
  }
}

function isKeyword(t: Token, word: string): boolean {
  return t.kind === 'ident' && t.text.toLowerCase() === word;
}

function pos(t: Token): Pos {
  return { line: t.line, column: t.column };
}

function describe(t: Token): string {
  switch (t.kind) {
    case 'eof':
      return 'the end of the statement';
    case 'string':
      return `the string '${t.text}'`;
    default:
      return `"${t.text}"`;
  }
}
