/**
 * The one shape of every crypto module's typed error, as panva/jose has it: a stable `code` that
 * callers switch on (never the message), and the class's own name as `name`. Each module keeps its
 * own subclass and code union, so `instanceof DpError` still tells one family from another, and
 * `instanceof CryptoError` tells a refused input or parameter from a bug anywhere in crypto/.
 */
export abstract class CryptoError<Code extends string = string> extends Error {
  readonly code: Code;

  constructor(code: Code, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
  }
}
