/**
 * Typed message definitions: a message type number that also carries, for the compiler only, the
 * payload its messages hold and the reply its requests get. `handle`, `handleRequest`, `request`,
 * `broadcast`, `sendTo` and `sendToMany` infer both from it, so a handler's payload is typed in
 * strict mode without a cast; at run time it is the plain number. A plain number still works
 * everywhere (payloads are then `unknown`, or what the call's type arguments say).
 */

declare const messageShape: unique symbol;

/** A message type (128..65535) whose messages carry `T` and whose requests are answered with `R`. */
export type MessageType<T = unknown, R = unknown> = number & { readonly [messageShape]?: (payload: T) => R };

/**
 * Name a message type with its payload (and reply) types: `const LOOKUP = messageType<{ key:
 * string }, string | undefined>(201)`. The number is checked when a handler is registered or a
 * message sent, as any type number is.
 */
export function messageType<T = unknown, R = unknown>(type: number): MessageType<T, R> {
  return type as MessageType<T, R>;
}
