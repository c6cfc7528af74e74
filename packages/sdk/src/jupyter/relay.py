# gpulink's kernel relay: a Jupyter comm target that carries one TCP connection per comm between a
# client of the Jupyter server and a port on this host's loopback (the gpulink agent's).
#
# The SDK runs this file in a dedicated kernel (it defines names and registers the target; running it
# again replaces the handlers, keeping open relays). Per comm, both directions move binary buffers,
# never base64. Flow control is a credit window each way: the kernel sends at most `window`
# unacknowledged data messages, and acknowledges each message it has written to the socket, so
# neither jupyter_server's iopub rate limit nor ZeroMQ's queues drop anything, and a client that
# stops reading (or vanishes) holds at most `window` messages in the server. Socket reads and writes
# run on threads of their own: ipykernel handles comm messages on its main thread, which must stay free.
# A relay ends, with its socket and threads, when either side closes, when its client sweeps its
# older relays after a reconnect, or when the client has been silent for `idle_s` seconds
# (it sends a heartbeat while alive), so a killed client leaves nothing behind.
import queue
import socket
import threading
import time

GPULINK_RELAY_TARGET = "gpulink_relay_v1"
GPULINK_RELAY_VERSION = 1
_CHUNK = 1 << 20


class _Relay:
    def __init__(self, comm, port, window, client, generation, idle_s):
        self.comm = comm
        self.client = client
        self.generation = generation
        self.idle_s = idle_s
        self.last_seen = time.monotonic()
        self.credits = window
        self.cond = threading.Condition()
        self.closed = False
        self.outbox = queue.Queue()
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.sock.settimeout(None)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.reader = threading.Thread(target=self._read, name="gpulink-relay-read", daemon=True)
        self.writer = threading.Thread(target=self._write, name="gpulink-relay-write", daemon=True)
        self.reader.start()
        self.writer.start()

    # Socket -> client, within the credit window.
    def _read(self):
        try:
            while True:
                with self.cond:
                    while self.credits <= 0 and not self.closed:
                        self.cond.wait()
                    if self.closed:
                        return
                    self.credits -= 1
                data = self.sock.recv(_CHUNK)
                if not data:
                    self._send({"t": "eof"})
                    return
                self._send({"t": "d"}, [data])
        except OSError as error:
            self.close(f"agent socket: {error}")

    # Client -> socket; written messages are acknowledged, each returning the client a credit: one
    # acknowledgement for all written while the outbox stays busy (every message costs the server).
    def _write(self):
        written = 0
        try:
            while True:
                if written and self.outbox.empty():
                    self._send({"t": "ack", "n": written})
                    written = 0
                item = self.outbox.get()
                if item is None:
                    return
                if item == b"":
                    self.sock.shutdown(socket.SHUT_WR)
                    continue
                self.sock.sendall(item)
                written += 1
        except OSError as error:
            self.close(f"agent socket: {error}")

    def _send(self, data, buffers=None):
        if not self.closed:
            self.comm.send(data, buffers=buffers)

    def on_msg(self, msg):
        self.last_seen = time.monotonic()
        content = msg["content"]["data"]
        kind = content.get("t")
        if kind == "d":
            for buf in msg.get("buffers") or []:
                self.outbox.put(bytes(buf))
        elif kind == "ack":
            with self.cond:
                self.credits += int(content.get("n", 1))
                self.cond.notify()
        elif kind == "eof":
            self.outbox.put(b"")
        elif kind == "close":
            self.close(None)

    def close(self, error):
        with self.cond:
            if self.closed:
                return
            self.closed = True
            self.cond.notify_all()
        _relays.discard(self)
        self.outbox.put(None)
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.sock.close()
        _finish(self.comm, error)


_relays = globals().get("_relays", set())


def _comm_manager():
    return get_ipython().kernel.comm_manager  # noqa: F821


def _finish(comm, error):
    # Not comm.close(): its comm_close goes out on iopub to every client of the kernel, and the others'
    # Jupyter clients log each unknown one as an error. A last comm message reaches only the relay's own
    # client (the others ignore comm ids they do not hold); then the comm is dropped here.
    if getattr(comm, "_closed", False):
        return
    try:
        comm.send({"t": "closed", "error": error})
    except Exception:
        pass
    comm._closed = True
    _comm_manager().comms.pop(comm.comm_id, None)


def _open(comm, msg):
    data = msg["content"]["data"]
    client = str(data.get("client", ""))
    generation = int(data.get("generation", 0))
    for old in [r for r in _relays if r.client == client and r.generation < generation]:
        old.close("swept by its client after a reconnect")
    if data.get("sweep_only"):
        _finish(comm, None)
        return
    try:
        relay = _Relay(
            comm,
            int(data["port"]),
            int(data.get("window", 8)),
            client,
            generation,
            float(data.get("idle_s", 60)),
        )
    except (OSError, KeyError, ValueError) as error:
        _finish(comm, f"cannot reach 127.0.0.1:{data.get('port')}: {error}")
        return
    _relays.add(relay)
    comm.on_msg(relay.on_msg)
    comm.on_close(lambda _msg: relay.close(None))
    comm.send({"t": "open"})


def _reap():
    while True:
        time.sleep(5)
        now = time.monotonic()
        for relay in list(_relays):
            if now - relay.last_seen > relay.idle_s:
                relay.close("client silent")


def gpulink_relay_close_client(client):
    """Ends every relay of `client` (its bridge closing): those whose comm close a cut lost too."""
    for relay in [r for r in _relays if r.client == client]:
        relay.close(None)


def gpulink_relay_status():
    """What the relay holds now: open relays and relay threads (the tests read it)."""
    names = [t.name for t in threading.enumerate() if t.name.startswith("gpulink-relay-")]
    return {"relays": len(_relays), "threads": len(names) - names.count("gpulink-relay-reaper")}


_comm_manager().register_target(GPULINK_RELAY_TARGET, _open)
if not any(t.name == "gpulink-relay-reaper" for t in threading.enumerate()):
    threading.Thread(target=_reap, name="gpulink-relay-reaper", daemon=True).start()
