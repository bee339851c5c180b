// Typed keys of per-request plugin state: `localKey<T>()` makes a symbol that remembers the
// type of what is stored under it, so `ctx.local(key)` is a T without a cast. The type is
// only in the type system: at run time a key is a plain Symbol.

declare const valueType: unique symbol;

/** A key of per-request state (`ctx.setLocal`, `ctx.local`) under which a T is kept. */
export type LocalKey<T> = symbol & { readonly [valueType]?: (value: T) => T };

/** A new key for per-request state of type T; `description` names it in a debugger. */
export function localKey<T>(description: string): LocalKey<T> {
  return Symbol(description) as LocalKey<T>;
}
