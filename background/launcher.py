"""`make run`: the web server and a background worker, started together, stopped together.

    python -m background.launcher [ADDRPORT]

Ctrl-C (or SIGTERM) stops both; so does either one ending on its own, and the launcher then
exits with a failure. Each runs in its own process group, because each has a child of its own
(Django's autoreloader restarts it on code changes), and the whole group is stopped: SIGINT
first, which lets the worker finish the task it is running, then SIGKILL after
STOP_GRACE_SECONDS. A task killed that way is run again once a worker reclaims it
(background/retries.py).

A launcher of our own rather than a Procfile runner (honcho): two fixed commands need no
Procfile, no extra dependency, and this stop order is ours to choose and test.
"""

import os
import signal
import subprocess
import sys
import time

STOP_GRACE_SECONDS = 15
POLL_SECONDS = 0.2


def demo_commands(addrport: str) -> dict[str, list[str]]:
    manage = [sys.executable, "manage.py"]
    return {"web server": [*manage, "runserver", addrport], "worker": [*manage, "worker"]}


class _Stop(Exception):
    pass


def _raise_stop(signum, frame):
    raise _Stop(signum)


def _signal_group(process: subprocess.Popen, signum: int) -> bool:
    """Sends the signal to the process's group; False when the group has ended."""
    process.poll()  # reaps the leader once it has ended, so only the living count
    try:
        os.killpg(process.pid, signum)
    except ProcessLookupError:
        return False
    return True


def _stop_groups(processes, grace: float) -> None:
    """SIGINT, as Ctrl-C in a terminal sends it (the worker then finishes its task), to every
    group; SIGKILL to the groups still there after `grace` seconds. A group, not only its
    leader: an autoreloader's child outlives its parent."""
    for process in processes:
        _signal_group(process, signal.SIGINT)
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline:
        if not any(_signal_group(process, 0) for process in processes):
            break
        time.sleep(POLL_SECONDS)
    for process in processes:
        _signal_group(process, signal.SIGKILL)
        process.wait()


def run_together(commands: dict[str, list[str]], grace: float = STOP_GRACE_SECONDS) -> int:
    """Runs every command until one ends or a stop signal comes, then stops them all.
    Returns 0 after a stop signal, 1 when a command ended by itself."""
    previous = {s: signal.signal(s, _raise_stop) for s in (signal.SIGINT, signal.SIGTERM)}
    processes = {}
    exit_code = 0
    try:
        for name, command in commands.items():
            processes[name] = subprocess.Popen(command, stdin=subprocess.DEVNULL,
                                               start_new_session=True)
        while True:
            ended = [name for name, p in processes.items() if p.poll() is not None]
            if ended:
                print(f"{', '.join(ended)} stopped; stopping the rest.", file=sys.stderr)
                exit_code = 1
                break
            time.sleep(POLL_SECONDS)
    except _Stop:
        pass
    finally:
        # A second Ctrl-C while stopping must not leave a child behind.
        for signum in previous:
            signal.signal(signum, signal.SIG_IGN)
        _stop_groups(list(processes.values()), grace)
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    return exit_code


def main(argv: list[str]) -> int:
    addrport = argv[0] if argv else "127.0.0.1:8000"
    return run_together(demo_commands(addrport))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
