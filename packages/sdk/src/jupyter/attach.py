# gpulink attach, the host's side: run by the SDK in gpulink's dedicated Jupyter kernel. Defines
# functions only; each call the SDK makes prints one JSON line. The agent runs detached from the kernel
# (a session of its own), so a restarted or killed kernel leaves it, and its jobs, running.
import json
import os
import shutil
import signal
import subprocess
import sys
import tarfile
import time
from pathlib import Path


def _answer(value):
    print(json.dumps(value))


def _module_version(name):
    try:
        from importlib import metadata

        return metadata.version(name)
    except Exception:
        return None


def _node(path=None):
    node = path or shutil.which("node")
    if not node:
        return None
    try:
        out = subprocess.run([node, "--version"], capture_output=True, text=True, timeout=20).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return {"path": node, "version": out.lstrip("v")}


def _agent_record(state_dir):
    record_path = Path(state_dir) / "attach.json"
    try:
        record = json.loads(record_path.read_text())
        pid = int(record["pid"])
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except (OSError, ValueError, KeyError):
        return None
    # The pid is ours only while its command line is our agent on this state dir (pids are reused).
    if b"serve" in cmdline and os.fsencode(str(Path(state_dir).resolve())) in cmdline:
        return record
    return None


def gpulink_probe(state_dir, install_root, mount=None):
    """What the host has: Python, torch, fastai, CUDA and GPUs, Node, disk, and a running agent."""
    import importlib

    importlib.invalidate_caches()  # a probe after gpulink_setup sees what pip just installed
    state_dir = os.path.expanduser(state_dir)
    install_root = os.path.expanduser(install_root)
    cuda = {"available": False, "version": None, "gpus": []}
    torch_version = _module_version("torch")
    if torch_version:
        try:
            import torch

            cuda["available"] = bool(torch.cuda.is_available())
            cuda["version"] = torch.version.cuda
            for i in range(torch.cuda.device_count() if cuda["available"] else 0):
                p = torch.cuda.get_device_properties(i)
                cuda["gpus"].append({"name": p.name, "memory_mib": p.total_memory // (1 << 20)})
        except Exception as error:
            cuda["error"] = str(error)
    disk_path = state_dir if os.path.isdir(state_dir) else os.path.expanduser("~")
    _answer(
        {
            "python": sys.version.split()[0],
            "executable": sys.executable,
            "platform": sys.platform,
            "machine": os.uname().machine,
            "torch": torch_version,
            "fastai": _module_version("fastai"),
            "cuda": cuda,
            "node": _node(),
            "disk_free_bytes": shutil.disk_usage(disk_path).free,
            "state_dir": str(Path(state_dir).resolve()),
            "mounted": os.path.ismount(mount) if mount else None,
            "installed": sorted(p.parent.name for p in Path(install_root).glob("*/.complete")),
            "agent": _agent_record(state_dir),
        }
    )


def _uploaded(path):
    # The Contents API's root is the server's root dir, the dedicated kernel's working dir (its session
    # path has no folder); on Colab the root may be / with the kernel in /content.
    for base in (os.getcwd(), "/", "/content"):
        candidate = os.path.join(base, path)
        if os.path.isfile(candidate):
            return candidate
    raise FileNotFoundError(f"the uploaded {path} is not where the Jupyter server put it")


def gpulink_install(upload, install_root, name):
    """Unpacks an uploaded agent package into install_root/name (kept: a later attach reuses it)."""
    upload = _uploaded(upload)
    install_root = Path(os.path.expanduser(install_root))
    target = install_root / name
    if not (target / ".complete").exists():
        staging = install_root / f".{name}.{os.getpid()}"
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir(parents=True)
        with tarfile.open(upload) as archive:
            archive.extractall(staging, filter="data") if hasattr(tarfile, "data_filter") else archive.extractall(staging)
        (staging / ".complete").write_text(name)
        shutil.rmtree(target, ignore_errors=True)
        staging.rename(target)
    os.unlink(upload)
    _answer({"bin": str(target / "package" / "dist" / "bin.js")})


def gpulink_install_node(upload, install_root):
    """Puts an uploaded Node binary (gzip) in install_root/node/bin/node."""
    import gzip

    upload = _uploaded(upload)
    dest = Path(os.path.expanduser(install_root)) / "node" / "bin" / "node"
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_suffix(f".{os.getpid()}")
    with gzip.open(upload, "rb") as src, open(tmp, "wb") as out:
        shutil.copyfileobj(src, out, 1 << 20)
    tmp.chmod(0o755)
    tmp.replace(dest)
    os.unlink(upload)
    _answer(_node(str(dest)))


def gpulink_setup(node, agent_bin, python):
    """Installs the worker's requirements into the kernel's Python: `gpulink-agent setup --in-place`."""
    done = subprocess.run(
        [node, os.path.expanduser(agent_bin), "setup", "--in-place", "--python", python],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
    )
    lines = (done.stdout + done.stderr).strip().splitlines()
    _answer({"code": done.returncode, "tail": lines[-12:]})


def gpulink_start(node, agent_bin, state_dir, python, timeout_s=180):
    """Starts the agent detached on the host's loopback with TLS, or finds the one already running."""
    state_dir = Path(os.path.expanduser(state_dir)).resolve()
    agent_bin = os.path.expanduser(agent_bin)  # an installed package's path is given from the install root
    running = _agent_record(state_dir)
    if running:
        _answer(dict(running, reused=True))
        return
    state_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    log_path = state_dir / "attach-agent.log"
    with open(log_path, "wb") as log:
        child = subprocess.Popen(
            [node, agent_bin, "serve", "--json", "--tls", "--state-dir", str(state_dir), "--python", python],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            close_fds=True,
        )
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        for line in log_path.read_text(errors="replace").splitlines():
            if line.startswith('{"url"'):
                record = {"pid": child.pid, "url": json.loads(line)["url"], "bin": agent_bin, "log": str(log_path)}
                (state_dir / "attach.json").write_text(json.dumps(record))
                _answer(dict(record, reused=False))
                return
        if child.poll() is not None:
            tail = log_path.read_text(errors="replace")[-2000:]
            raise RuntimeError(f"the agent exited with status {child.returncode} before it was ready: {tail}")
        time.sleep(0.2)
    child.kill()
    raise RuntimeError(f"the agent was not ready after {timeout_s} s (log: {log_path})")


def gpulink_stop(state_dir, grace_s=30):
    """Stops the attached agent gracefully (its running jobs become interrupted, resumable)."""
    state_dir = Path(os.path.expanduser(state_dir)).resolve()
    record = _agent_record(state_dir)
    if record is None:
        (state_dir / "attach.json").unlink(missing_ok=True)
        _answer({"stopped": False})
        return
    pid = int(record["pid"])
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + grace_s
    while time.monotonic() < deadline and _agent_record(state_dir):
        time.sleep(0.2)
    if _agent_record(state_dir):
        os.killpg(pid, signal.SIGKILL)
    (state_dir / "attach.json").unlink(missing_ok=True)
    _answer({"stopped": True, "pid": pid})
