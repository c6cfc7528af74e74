"""The process contract itself: the event channel and the warm start."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from conftest import check_event


def test_without_fd_3_it_says_how_it_is_meant_to_run(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "gpulink_worker"], cwd=tmp_path, input="",
                          capture_output=True, text=True, timeout=60, close_fds=True)
    assert proc.returncode == 2
    assert "fd 3" in proc.stderr and "gpulink-agent" in proc.stderr


def test_warm_worker_announces_itself_and_exits_on_eof(tmp_path):
    read_fd, write_fd = os.pipe()
    launcher = ("import os, sys; fd = int(sys.argv[1]); os.dup2(fd, 3)\n"
                "if fd != 3: os.close(fd)\n"
                "os.execv(sys.executable, [sys.executable, '-m', 'gpulink_worker'])")
    proc = subprocess.Popen([sys.executable, "-c", launcher, str(write_fd)], cwd=tmp_path,
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            pass_fds=(write_fd,), text=True)
    os.close(write_fd)
    with os.fdopen(read_fd, encoding="utf-8") as chan:
        first = json.loads(chan.readline())
        # The agent keeps a warm worker waiting, then closes it when it is not needed.
        proc.stdin.close()
        rest = chan.read()
    assert proc.wait(timeout=60) == 0
    assert check_event(first) == "ready"
    ready = first["ready"]
    assert ready["pythonExecutable"] == sys.executable
    assert ready["fastaiVersion"].startswith("2.8")
    assert ready["cudaAvailable"] is (ready["gpus"] != [])
    assert rest == ""
