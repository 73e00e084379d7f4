"""The worker port's CURVE keys for the interop clients, as
docs/protocol.md describes them; shared by push_worker.py and
pull_client.py (each run as a script from this folder)."""

import os

import zmq


def curve_keys():
    """CURVE keys as docs/protocol.md describes, from the environment:
    FAAS_DISPATCHER_KEY (the dispatcher's Z85 public key, or a file holding
    it) and FAAS_WORKER_KEY_FILE (a key pair file: `public = ...`,
    `secret = ...`). Neither set: plain ZMTP (a dispatcher with --no-curve)."""
    server = os.environ.get("FAAS_DISPATCHER_KEY")
    key_file = os.environ.get("FAAS_WORKER_KEY_FILE")
    if not server or not key_file:
        return None

    def fields(text):
        out = {}
        for line in text.splitlines():
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            if len(line) == 40:  # a bare key ("=" is a Z85 character)
                out["public"] = line
                continue
            name, _, value = line.partition("=")
            out[name.strip()] = value.strip()
        return out

    if len(server) != 40 or os.path.exists(server):
        server = fields(open(server).read())["public"]
    pair = fields(open(key_file).read())
    secret = pair["secret"].encode()
    return server.encode(), zmq.curve_public(secret), secret


def set_curve(sock, keys):
    if keys is not None:
        sock.curve_serverkey, sock.curve_publickey, sock.curve_secretkey = keys
