"""Issue 13 item 5: campaign execution backends. The local backend in-process and on a process pool, and a real
local Ray cluster (``ray start --head`` on loopback ports), give the same per-case results; a campaign resumes
through Ray; a missing ray or an unreachable address is a clear error."""

from __future__ import annotations

import io
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from drone_perception.cli import main
from drone_perception.errors import ConfigError
from sim.campaign.family import draw_cases
from sim.runners.campaign import read_manifest, run_campaign
from sim.runners.campaign_exec import LocalBackend, ProgressLine, TaskFailed, make_backend

# 4 short cases: the 40 s and 45 s scenarios (about 1 s each on the direct loop)
SCENARIOS = "sprint_toward,subject_lost"
EPISODES, SEED = 4, 11


def _key(rows: list[dict]) -> dict[str, tuple]:
    """What must not depend on where a case ran: per id, the trace hash, the margins and the verdict."""
    return {r["id"]: (r["trace_hash"], json.dumps(r["margins"], sort_keys=True), r["verdict"]) for r in rows}


@pytest.fixture(scope="module")
def code() -> str:
    """The code version the CLI stamps on its cases (so that ids match between the CLI and these runs)."""
    from drone_perception.cli.campaign import _code_version

    return _code_version()


@pytest.fixture(scope="module")
def local_rows(tmp_path_factory, code) -> list[dict]:
    """The reference: the campaign's cases in this process (the local backend, workers=1)."""
    cases = draw_cases(SCENARIOS.split(","), EPISODES, SEED)
    return run_campaign(cases, tmp_path_factory.mktemp("local1"), code_version=code)


@pytest.fixture
def no_report_reruns(monkeypatch) -> None:
    """The CLI's report re-runs the worst cases locally with a recorder (tested in test_html_report.py); here
    that would only triple the time."""
    monkeypatch.setattr("drone_perception.cli.campaign.REPORT_WORST", 0)


def test_the_local_backend_gives_the_same_rows_in_process_and_on_a_pool(local_rows, code, tmp_path) -> None:
    cases = draw_cases(SCENARIOS.split(","), EPISODES, SEED)
    pool = LocalBackend(2)
    try:
        rows = run_campaign(cases, tmp_path, code_version=code, backend=pool)
    finally:
        pool.close()
    assert [r["id"] for r in rows] == [c.case_id(code) for c in cases]  # returned in case order
    assert _key(rows) == _key(local_rows) and len(_key(rows)) == EPISODES
    assert sorted(r["id"] for r in read_manifest(tmp_path)) == sorted(_key(rows))


@pytest.mark.parametrize("workers", [1, 2])
def test_a_failing_task_names_its_item(workers) -> None:
    backend = LocalBackend(workers)
    try:
        # json.loads: a library function, importable by the pool's and the cluster's workers
        with pytest.raises(TaskFailed, match=r"item '\{' failed: JSONDecodeError: Expecting property name"):
            list(backend.imap(json.loads, ["1", "{", "3"], label=lambda x: f"item {x!r}"))
    finally:
        backend.close()


@pytest.mark.parametrize(("name", "address", "match"), [
    ("local", "127.0.0.1:1", "needs --backend ray"),
    ("dask", None, "unknown backend 'dask'"),
    ("local", None, None),
])
def test_make_backend_checks_its_arguments(name, address, match) -> None:
    if match is None:
        assert isinstance(make_backend(name, 1, address), LocalBackend)
        return
    with pytest.raises(ConfigError, match=match):
        make_backend(name, 1, address)


def test_asking_for_ray_without_ray_installed_says_how_to_install_it(monkeypatch, tmp_path, capsys) -> None:
    monkeypatch.setitem(sys.modules, "ray", None)  # import ray -> ImportError
    code = main(["campaign", "--episodes", "1", "--scenarios", "sprint_toward", "--out", str(tmp_path),
                 "--backend", "ray"])
    err = capsys.readouterr().err
    assert code == 2 and "ray, which is not installed" in err and "pip install -e '.[cluster]'" in err
    assert not (tmp_path / "manifest.jsonl").exists()


def test_the_progress_line_redraws_on_a_tty_and_prints_periodic_lines_elsewhere() -> None:
    rows = [{"id": f"c{k}", "scenario": "walk", "verdict": "pass", "failures": []} for k in range(40)]
    rows[7] = {"id": "c7", "scenario": "walk", "verdict": "fail", "failures": ["standoff"]}
    plain, tty = io.StringIO(), io.StringIO()
    p, t = ProgressLine(plain, tty=False), ProgressLine(tty, tty=True)
    for k, row in enumerate(rows, 1):
        p(k, 40, row)
        t(k, 40, row)
    lines = plain.getvalue().splitlines()
    assert len(lines) == 20 and lines[-1].startswith("campaign: 40/40 cases (")  # every 2nd case (5 %)
    assert lines[3].startswith("campaign: 8/40 cases (") and lines[3].endswith("FAIL c7 (walk: standoff)")
    screen = tty.getvalue()
    assert screen.count("\n") == 2 and screen.count("\r\x1b[K") == 41  # the failure on its own line, one redraw each
    assert "FAIL c7 (walk: standoff)\n" in screen and screen.endswith("40/40 cases 100% " + screen.split("100% ")[-1])
    assert "[" + "#" * 10 in screen


# ------------------------------------------------------------------------------------------- a real Ray cluster


def _reset_ray_auth() -> None:
    """Make this process's ray re-read RAY_AUTH_MODE/RAY_AUTH_TOKEN (it caches them at import); a ray without
    token authentication (before 2.5x) has nothing to reset."""
    try:
        from ray._private.authentication_test_utils import reset_auth_token_state
    except ImportError:
        return
    reset_auth_token_state()


def _die_with_parent() -> None:
    """In the child before exec: SIGTERM it when the test process dies (an interrupted run leaves no cluster)."""
    if sys.platform.startswith("linux"):
        import ctypes

        ctypes.CDLL(None).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def ray_cluster() -> Iterator[str]:
    """A real 2-CPU Ray head on this machine (``ray start --head --block``), with its own token, temp folder and
    ports; stopped by signalling the process this fixture started (not ``ray stop``, which would stop every
    Ray on the machine)."""
    pytest.importorskip("ray", reason="ray is not installed (pip install -e '.[cluster]'): the Ray backend tests "
                        "need a real local cluster")
    ray_cli = shutil.which("ray", path=os.path.dirname(sys.executable)) or shutil.which("ray")
    if ray_cli is None:
        pytest.skip("ray is installed but its `ray` command is not on PATH")
    port = _free_port()
    # a short private temp folder (Ray's unix sockets have a 107-byte path limit) keeps the head off /tmp/ray,
    # whose ray_current_cluster file would send other `ray.init()` calls on this machine to this cluster
    temp_dir = tempfile.mkdtemp(prefix="rayt", dir="/tmp")
    token = secrets.token_hex(32)
    env = {**os.environ, "RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": token, "RAY_USAGE_STATS_ENABLED": "0"}
    log_path = Path(temp_dir) / "start.log"
    with log_path.open("w") as log:
        head = subprocess.Popen(
            [ray_cli, "start", "--head", "--block", f"--port={port}", "--num-cpus=2", "--include-dashboard=false",
             "--disable-usage-stats", f"--temp-dir={temp_dir}", f"--dashboard-port={_free_port()}",
             f"--dashboard-agent-listen-port={_free_port()}"],
            stdout=log, stderr=subprocess.STDOUT, env=env, cwd=temp_dir, start_new_session=True,
            preexec_fn=_die_with_parent)
    saved = {k: os.environ.get(k) for k in ("RAY_AUTH_MODE", "RAY_AUTH_TOKEN")}
    try:
        deadline = time.monotonic() + 90.0
        while "Ray runtime started" not in log_path.read_text(errors="replace"):
            if head.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"ray start did not come up: {log_path.read_text(errors='replace')[-2000:]}")
            time.sleep(0.2)
        os.environ["RAY_AUTH_MODE"], os.environ["RAY_AUTH_TOKEN"] = "token", token  # this driver's credentials
        _reset_ray_auth()
        yield f"127.0.0.1:{port}"
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        _reset_ray_auth()
        head.send_signal(signal.SIGTERM)  # `ray start --block` stops the processes it started, then exits
        try:
            head.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(head.pid, signal.SIGKILL)  # its own session: only this cluster's processes
            head.wait(timeout=10)
        shutil.rmtree(temp_dir, ignore_errors=True)


def _ray_campaign(out: Path, address: str) -> int:
    return main(["campaign", "--episodes", str(EPISODES), "--seed", str(SEED), "--scenarios", SCENARIOS,
                 "--out", str(out), "--backend", "ray", "--address", address])


def test_a_campaign_on_a_real_ray_cluster_matches_the_local_backend_and_resumes(
        ray_cluster, local_rows, no_report_reruns, tmp_path, capsys) -> None:
    status = _ray_campaign(tmp_path, ray_cluster)
    err = capsys.readouterr().err
    assert status in (0, 1), err[-3000:]
    rows = read_manifest(tmp_path)
    assert len(rows) == EPISODES and _key(rows) == _key(local_rows)
    assert f"campaign: {EPISODES}/{EPISODES} cases" in err
    # resumable through Ray: the same campaign again runs nothing new (no line added, no progress printed)
    before = (tmp_path / "manifest.jsonl").read_text()
    assert _ray_campaign(tmp_path, ray_cluster) == status
    assert (tmp_path / "manifest.jsonl").read_text() == before and "cases (" not in capsys.readouterr().err


def test_a_failing_ray_task_names_its_item(ray_cluster) -> None:
    backend = make_backend("ray", 1, ray_cluster)
    try:
        assert backend.workers == 2
        with pytest.raises(TaskFailed, match=r"item '\{' failed on the Ray cluster: JSONDecodeError: Expecting"):
            list(backend.imap(json.loads, ["1", "{", "3"], label=lambda x: f"item {x!r}"))
    finally:
        backend.close()


def test_an_unreachable_address_is_a_clear_error_within_a_bounded_time(tmp_path, capsys) -> None:
    pytest.importorskip("ray", reason="ray is not installed (pip install -e '.[cluster]')")
    address = f"127.0.0.1:{_free_port()}"  # nothing listens there
    t0 = time.monotonic()
    code = _ray_campaign(tmp_path, address)
    err = capsys.readouterr().err
    assert code == 2 and f"cannot reach the Ray cluster at {address}" in err
    assert time.monotonic() - t0 < 35.0
