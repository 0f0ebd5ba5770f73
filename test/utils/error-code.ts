import assert from "node:assert/strict";

/** An error class with a `code`, such as CryptoError or ChannelConfigError. */
type CodedErrorClass = abstract new (...args: never[]) => Error & { code: string };

function codeFrom(err: unknown, errorClass: CodedErrorClass | undefined): string {
  if (errorClass !== undefined) {
    assert.ok(err instanceof errorClass, `expected a ${errorClass.name}, got ${String(err)}`);
    return err.code;
  }
  return (err as { code?: string }).code ?? "untyped";
}

/**
 * The `code` of the error `fn` throws, or undefined when it returns. With `errorClass`, an error of any
 * other class fails the test; without it, an error without a code gives "untyped".
 */
export function codeOf(fn: () => unknown, errorClass?: CodedErrorClass): string | undefined {
  try {
    fn();
    return undefined;
  } catch (err) {
    return codeFrom(err, errorClass);
  }
}

/** `codeOf` for a function that returns a promise. */
export async function codeOfAsync(fn: () => Promise<unknown>, errorClass?: CodedErrorClass): Promise<string | undefined> {
  try {
    await fn();
    return undefined;
  } catch (err) {
    return codeFrom(err, errorClass);
  }
}
