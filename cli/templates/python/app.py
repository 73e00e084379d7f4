"""{{name}}: a faas function in Python.

handle(payload) gets the task's JSON payload, parsed, and returns anything
JSON can hold; an exception fails the task with its message.
"""


def handle(payload):
    name = payload.get("name", "world") if isinstance(payload, dict) else str(payload)
    return {"greeting": f"Hello, {name}!"}
