"""`make run`'s launcher (background/launcher.py): the web server and a worker start together
and stop together, their autoreloaders' children included."""

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request

import pytest

from background import Status, enqueue, state

from . import background_tasks as tasks
from .background_worker import PROJECT, database_for_a_second_process, wait_for

# Each command starts a child of its own, as an autoreloader does, and writes both pids.
FAMILY = ("import os, subprocess, sys, time; "
          "child = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)']); "
          "open(sys.argv[1], 'w').write(f'{os.getpid()} {child.pid}'); time.sleep({life})")
STUBBORN = ("import os, signal, sys, time; signal.signal(signal.SIGINT, signal.SIG_IGN); "
            "open(sys.argv[1], 'w').write(f'{os.getpid()}'); time.sleep(60)")
LAUNCH = ("import json, sys; from background.launcher import run_together; "
          "sys.exit(run_together(json.loads(sys.argv[1]), grace=float(sys.argv[2])))")


def launch(commands, grace=5.0, **kwargs):
    return subprocess.Popen([sys.executable, "-c", LAUNCH, json.dumps(commands), str(grace)],
                            cwd=PROJECT, **kwargs)


def family(pid_file, life):
    return [sys.executable, "-c", FAMILY.replace("{life}", str(life)), str(pid_file)]


def pids(*pid_files):
    wait_for(lambda: all(f.exists() and f.read_text() for f in pid_files))
    return [int(pid) for f in pid_files for pid in f.read_text().split()]


def alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie is dead, only not yet reaped by its (new) parent.
    with open(f"/proc/{pid}/stat") as stat:
        return stat.read().rsplit(")", 1)[1].split()[0] != "Z"


def test_when_one_stops_the_other_is_stopped_with_its_children(tmp_path):
    web, worker = tmp_path / "web", tmp_path / "worker"
    started = time.monotonic()
    launcher = launch({"web server": family(web, 60), "worker": family(worker, 1)},
                      grace=30, stderr=subprocess.PIPE, text=True)
    everyone = pids(web, worker)

    _, errors = launcher.communicate(timeout=30)

    assert launcher.returncode == 1
    assert "worker stopped; stopping the rest." in errors
    assert time.monotonic() - started < 20  # not the grace period: they stopped on SIGINT
    wait_for(lambda: not any(alive(pid) for pid in everyone), timeout=5)


def test_ctrl_c_stops_both_with_their_children(tmp_path):
    web, worker = tmp_path / "web", tmp_path / "worker"
    launcher = launch({"web server": family(web, 60), "worker": family(worker, 60)})
    everyone = pids(web, worker)

    launcher.send_signal(signal.SIGINT)

    assert launcher.wait(timeout=30) == 0
    wait_for(lambda: not any(alive(pid) for pid in everyone), timeout=5)


def test_one_that_ignores_ctrl_c_is_killed_after_the_grace_period(tmp_path):
    stubborn, worker = tmp_path / "stubborn", tmp_path / "worker"
    launcher = launch({"web server": [sys.executable, "-c", STUBBORN, str(stubborn)],
                       "worker": family(worker, 60)}, grace=1.0)
    everyone = pids(stubborn, worker)

    started = time.monotonic()
    launcher.send_signal(signal.SIGTERM)

    assert launcher.wait(timeout=30) == 0
    assert time.monotonic() - started >= 1.0
    wait_for(lambda: not any(alive(pid) for pid in everyone), timeout=5)


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def answers(url):
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status == 200 and response.read() == b"ok"
    except OSError:
        return False


@pytest.mark.django_db(transaction=True)
def test_make_run_serves_the_app_and_runs_tasks_then_stops_both(tmp_path):
    port = free_port()
    healthz = f"http://127.0.0.1:{port}/healthz"
    with database_for_a_second_process(tmp_path) as database_url:
        launcher = subprocess.Popen(
            [sys.executable, "-m", "background.launcher", f"127.0.0.1:{port}"], cwd=PROJECT,
            env={**os.environ, "DATABASE_URL": database_url,
                 "BACKGROUND_TEST_LOG_DIR": str(tmp_path)},
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            wait_for(lambda: answers(healthz), timeout=60)
            task_id = enqueue(tasks.add, 20, 22)
            wait_for(lambda: state(task_id).is_finished, timeout=60)
            assert (state(task_id).status, state(task_id).return_value) == (Status.SUCCEEDED,
                                                                             42)
        finally:
            launcher.send_signal(signal.SIGINT)
            exit_code = launcher.wait(timeout=60)

    assert exit_code == 0
    assert not answers(healthz)
    with socket.socket() as probe:  # nothing listens on the port any more
        assert probe.connect_ex(("127.0.0.1", port)) != 0
