"""A STAND-IN for Google's Colab CLI (google-colab-cli 0.7.x), for gpulink's tests only.

It answers `new`, `status`, `sessions` and `stop` the way that CLI does (src/colab_cli/commands/session.py,
common.py), with Colab's backend replaced by a stand-in at $COLAB_STAND_IN_BACKEND, and keeps its
session file where and as that CLI does (src/colab_cli/state.py): ~/.config/colab-cli/sessions.json,
a JSON object from session name to a SessionState dumped by pydantic. Signing in is the part it leaves
out: the real CLI does that before talking to the backend.
"""

import argparse
import json
import os
import sys
import urllib.request
import uuid
from datetime import datetime, timedelta, timezone

SESSIONS = os.path.expanduser("~/.config/colab-cli/sessions.json")
BACKEND = os.environ["COLAB_STAND_IN_BACKEND"].rstrip("/")
GPUS = {"t4": "T4", "l4": "L4", "g4": "G4", "a100": "A100", "h100": "H100"}


def backend(command, method, path, body=None):
    """A call to the stand-in backend; it records which command made it."""
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(
        BACKEND + path,
        data=data,
        method=method,
        headers={"Content-Type": "application/json", "X-Stand-In-Command": command},
    )
    with urllib.request.urlopen(request) as response:
        return json.loads(response.read() or b"null")


def load():
    if not os.path.exists(SESSIONS):
        return {}
    with open(SESSIONS) as f:
        text = f.read()
    return json.loads(text) if text.strip() else {}


def save(sessions):
    os.makedirs(os.path.dirname(SESSIONS), exist_ok=True)
    with open(SESSIONS, "w") as f:
        f.write(json.dumps(sessions, indent=2))


def expires_at(info):
    # pydantic's JSON form of an aware UTC datetime.
    at = datetime.now(timezone.utc) + timedelta(seconds=info["tokenExpiresInSeconds"])
    return at.isoformat().replace("+00:00", "Z")


def apply_proxy_info(session, info):
    session["token"] = info["token"]
    session["url"] = info["url"]
    session["token_expires_at"] = expires_at(info)


def sync(command):
    """As State.sync_sessions: fresh proxy info for every local session, stale ones pruned."""
    sessions = load()
    if not sessions:
        return sessions
    by_endpoint = {a["endpoint"]: a for a in backend(command, "GET", "/assignments")["assignments"]}
    pruned = 0
    for name, s in list(sessions.items()):
        if s["endpoint"] in by_endpoint:
            apply_proxy_info(s, by_endpoint[s["endpoint"]]["runtimeProxyInfo"])
        else:
            del sessions[name]
            pruned += 1
    save(sessions)
    if pruned:
        print(f"[colab] Pruned {pruned} stale local session(s).")
    return sessions


def status_line(s):
    hardware = "CPU" if s["accelerator"] == "NONE" else s["accelerator"]
    return (
        f"[{s['name']}] {s['endpoint']} | Hardware: {hardware} | Shape: Standard"
        f" | Variant: {s['variant']} | Status: IDLE"
    )


def new(args):
    name = args.session or uuid.uuid4().hex[:6]
    accelerator = GPUS.get(args.gpu.lower(), "A100") if args.gpu else "NONE"
    print(f"[colab] Creating session '{name}'...")
    res = backend("new", "POST", "/assign", {"accelerator": accelerator})
    sessions = load()
    sessions[name] = {
        "name": name,
        "token": res["runtimeProxyInfo"]["token"],
        "url": res["runtimeProxyInfo"]["url"],
        "endpoint": res["endpoint"],
        "token_expires_at": expires_at(res["runtimeProxyInfo"]),
        "variant": "GPU" if args.gpu else "DEFAULT",
        "accelerator": accelerator,
        "machine_shape": "STANDARD",
        "kernel_id": None,
        "session_id": None,
        "last_execution": None,
        "running": None,
    }
    save(sessions)
    print("[colab] Session READY.")


def status(args):
    sessions = sync("status")
    if args.session:
        s = sessions.get(args.session)
        print(status_line(s) if s else f"[colab] Session '{args.session}' not found.")
        return
    if not sessions:
        print("[colab] No active sessions.")
    for s in sessions.values():
        print(status_line(s))


def sessions_command(args):
    for s in sync("sessions").values():
        print(status_line(s))


def stop(args):
    sessions = load()
    name = args.session
    if not name:
        if len(sessions) != 1:
            print("[colab] Error: Specify a session with -s.")
            sys.exit(1)
        name = next(iter(sessions))
    s = sessions.get(name)
    if not s:
        print(f"[colab] Session '{name}' not found.")
        return
    print(f"[colab] Stopping session '{name}'...")
    backend("stop", "POST", f"/unassign/{s['endpoint']}")
    del sessions[name]
    save(sessions)
    print("[colab] Session terminated.")


def main():
    parser = argparse.ArgumentParser(prog="colab", description="Colab CLI (a test stand-in)")
    commands = parser.add_subparsers(dest="command", required=True)
    p = commands.add_parser("new")
    p.add_argument("-s", "--session")
    p.add_argument("--gpu")
    p.add_argument("--tpu")
    p.set_defaults(run=new)
    for name, run in (("status", status), ("stop", stop)):
        p = commands.add_parser(name)
        p.add_argument("-s", "--session")
        p.set_defaults(run=run)
    commands.add_parser("sessions").set_defaults(run=sessions_command)
    args = parser.parse_args()
    args.run(args)


if __name__ == "__main__":
    main()
