// {{name}}: a faas function in JavaScript.
//
// handle(payload) gets the task's JSON payload, parsed, and returns anything
// JSON can hold; a thrown error fails the task with its message.

export function handle(payload) {
  const name = typeof payload === "string" ? payload : payload?.name ?? "world";
  return { greeting: `Hello, ${name}!` };
}
