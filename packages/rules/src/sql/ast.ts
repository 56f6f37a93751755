/** The syntax tree of one rule statement. */

export interface Pos {
  line: number;
  column: number;
}

/** One step of a path: a key (`.temp`, `.'User-Property'`) or an index (`[1]`, 1-based as in EMQX). */
export type Segment = { key: string } | { index: Expr };

export type BinaryOp = '+' | '-' | '*' | '/' | 'div' | 'mod' | '=' | '!=' | '<' | '<=' | '>' | '>=' | '=~' | 'and' | 'or';

export type Expr =
  | { kind: 'literal'; value: string | number | boolean | null; pos: Pos }
  /** A field of the event (`topic`, `payload.sensor.temp`) or of the output so far (an alias). */
  | { kind: 'path'; root: string; segments: Segment[]; pos: Pos }
  /** Steps into the value of any other expression: `json_decode(payload).x`. */
  | { kind: 'get'; target: Expr; segments: Segment[]; pos: Pos }
  | { kind: 'call'; name: string; args: Expr[]; pos: Pos }
  | { kind: 'binary'; op: BinaryOp; left: Expr; right: Expr; pos: Pos }
  | { kind: 'not'; operand: Expr; pos: Pos }
  | { kind: 'negate'; operand: Expr; pos: Pos }
  | { kind: 'in'; operand: Expr; list: Expr[]; negated: boolean; pos: Pos }
  | { kind: 'array'; items: Expr[]; pos: Pos }
  | { kind: 'case'; subject: Expr | undefined; whens: { when: Expr; then: Expr }[]; otherwise: Expr | undefined; pos: Pos };

export type Field =
  | { kind: 'star'; pos: Pos }
  /** `alias`: the output key path (`AS a.b` nests); absent: named after the expression. */
  | { kind: 'expr'; expr: Expr; alias: string[] | undefined; text: string; pos: Pos };

export interface FromItem {
  topic: string;
  pos: Pos;
}

export interface Statement {
  fields: Field[];
  from: FromItem[];
  where: Expr | undefined;
}
