// A JavaScript function: greets a name.
//
// Input: a JSON string ("world") or {"name": "world"}. Output:
// {"greeting": "hello, world", "length": 12}. Anything else fails the
// task with the error's message and stack.

export function handle(payload) {
  const name = typeof payload === "string" ? payload : payload?.name;
  if (typeof name !== "string") {
    throw new TypeError(`expected a name as a JSON string or {"name": "..."}, got ${JSON.stringify(payload)}`);
  }
  const greeting = `hello, ${name}`;
  return { greeting, length: [...greeting].length };
}
