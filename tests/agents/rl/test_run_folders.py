"""Run and output folders never lose or mix a user's results (issue 16: 1-5, 9-13).

Races, kills and Ctrl-C run ``vpp-gym`` in subprocesses, bounded in time (``slow``); everything that
stops before a training or an evaluation calls :func:`agents.cli.main` in this process.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import yaml

pytest.importorskip("torch")
pytest.importorskip("stable_baselines3")

from agents.cli import main
from agents.runfiles import FolderLock

ROOT = Path(__file__).resolve().parents[3]
pytestmark = pytest.mark.rl

SMOKE = {
    "name": "smoke",
    "env_id": "vpp_gym/Arbitrage-v1",
    "algo": "ppo",
    "seed": 1,
    "agent": {"n_steps": 32, "batch_size": 256, "n_epochs": 1, "net_arch": [16]},
    "train": {"total_timesteps": 512, "n_envs": 8, "eval_every_steps": 256, "checkpoint_every_steps": 256},
    "eval": {"days": 2},
}
EVAL = ["evaluate", "--env", "vpp_gym/Arbitrage-v1", "--episodes", "1", "--policies", "rule"]
SLOW_ENV = (
    "import sys, time; import agents.rl.train as t; f = t.make_train_env; "
    "t.make_train_env = lambda *a, **k: (time.sleep(float(sys.argv[1])), f(*a, **k))[1]; "
    "from agents.cli import main; sys.exit(main(sys.argv[2:]))"
)
"""``python -c SLOW_ENV SECONDS ARGS...``: vpp-gym with a training env that takes SECONDS longer to build
(a big scenario), which widens the time between a command's look at its folder and its first write."""


def _env() -> dict[str, str]:
    return {"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin", "HOME": "/tmp", "PYTHONUNBUFFERED": "1"}


def _default_sigint() -> None:
    """In the child: SIGINT back to its default, so that Python installs its KeyboardInterrupt handler even when
    the test runs under a parent that ignores SIGINT (a job started with ``&`` by a non-interactive shell)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _popen(args: list[str], cwd: Path, out: Path | None = None) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, *args],
        cwd=cwd,
        stdout=out.open("w") if out is not None else subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=_env(),
        preexec_fn=_default_sigint,
    )


def _wait_for(predicate, timeout: float = 120.0, proc: subprocess.Popen | None = None) -> None:
    t0 = time.monotonic()
    while not predicate():
        if proc is not None and proc.poll() is not None:
            raise AssertionError(
                f"the process ended early: {proc.returncode} {proc.stderr.read() if proc.stderr else ''}"
            )
        if time.monotonic() - t0 > timeout:
            raise AssertionError("timed out")
        time.sleep(0.05)


def _run_main(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    code = main(list(args))
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return code, err


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A finished tiny PPO run (2 evaluations, 2 checkpoints), trained in this process; overrides after options."""
    tmp = tmp_path_factory.mktemp("trained")
    (tmp / "smoke.yaml").write_text(yaml.safe_dump(SMOKE))
    cwd = Path.cwd()
    os.chdir(tmp)
    try:
        assert main(["train", "smoke.yaml", "--out", "run", "--no-progress", "agent.learning_rate=1e-3"]) == 0
    finally:
        os.chdir(cwd)
    cfg = yaml.safe_load((tmp / "run" / "config.yaml").read_text())
    assert cfg["agent"]["learning_rate"] == 1e-3  # a dotted override after the options (16.13)
    return tmp / "run"


@pytest.fixture
def work(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    (tmp_path / "smoke.yaml").write_text(yaml.safe_dump(SMOKE))
    monkeypatch.chdir(tmp_path)
    return tmp_path


def _copy(run: Path, dest: Path) -> Path:
    shutil.copytree(run, dest, ignore=shutil.ignore_patterns(".lock"))
    return dest


# -- 1: a run folder is locked -------------------------------------------------------------------------


@pytest.mark.slow
def test_two_trainings_started_at_once_into_one_folder(work: Path) -> None:
    # both look at the (empty) folder at once; before, both trained into it and mixed curve.csv,
    # meta.json and the best model of two seeds
    procs = [
        _popen(["-c", SLOW_ENV, "1", "train", "smoke.yaml", f"seed={seed}", "--out", "R", "--no-progress"], work)
        for seed in (1, 2)
    ]
    results = [(p.wait(timeout=300), p.stdout.read(), p.stderr.read()) for p in procs]  # type: ignore[union-attr]
    codes = sorted(code for code, _, _ in results)
    assert codes == [0, 2], results
    loser = next(err for code, _, err in results if code == 2)
    assert "is in use by vpp-gym train" in loser and "Traceback" not in loser
    seed = yaml.safe_load((work / "R" / "config.yaml").read_text())["seed"]
    meta = json.loads((work / "R" / "meta.json").read_text())
    assert meta["seeds"]["agent"] == seed
    steps = [int(line.split(",")[0]) for line in (work / "R" / "curve.csv").read_text().splitlines()[1:]]
    assert steps == [256, 512]  # one run's evaluations only


def test_a_run_folder_in_use_is_refused(trained: Path, work: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run = _copy(trained, work / "copy")
    with FolderLock(run):
        code, err = _run_main(capsys, "train", "--resume", str(run), "train.total_timesteps=2048")
        assert code == 2 and f"{run} is in use by" in err
        from agents.rl.policy import RlPolicy

        RlPolicy.check(run)  # reading a run that is being trained is fine: its units are replaced atomically
    out = work / "taken"
    out.mkdir()
    with FolderLock(out):
        code, err = _run_main(capsys, *EVAL, "--out", str(out))
    assert code == 2 and "is in use by" in err


def test_the_os_releases_the_lock_of_a_killed_process(tmp_path: Path) -> None:
    code = (
        "import os, pathlib; from agents.runfiles import FolderLock; "
        f"FolderLock(pathlib.Path({str(tmp_path)!r})).acquire(); os.kill(os.getpid(), 9)"
    )
    proc = subprocess.run([sys.executable, "-c", code], env=_env(), timeout=60, capture_output=True)
    assert proc.returncode == -9
    FolderLock(tmp_path).acquire().release()  # free again


# -- 2, 3: output folders ------------------------------------------------------------------------------


def test_run_never_deletes_what_the_user_has_in_out(work: Path, capsys: pytest.CaptureFixture[str]) -> None:
    mine = work / "D" / "ppo_run" / "notes.txt"
    mine.parent.mkdir(parents=True)
    mine.write_text("my notes")
    code, err = _run_main(
        capsys, "run", "--env", "vpp_gym/Arbitrage-v1", "--episodes", "1", "--ppo-steps", "64", "--out", "D"
    )
    assert code == 2 and "--out D is not empty (it holds ppo_run/)" in err
    assert mine.read_text() == "my notes"


def test_evaluate_writes_only_into_a_new_or_empty_folder_and_lists_what_it_holds(
    work: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    mine = work / "E" / "kpis.csv"
    mine.parent.mkdir()
    mine.write_text("my own table")
    code, err = _run_main(capsys, *EVAL, "--out", "E")
    assert code == 2 and "--out E is not empty (it holds kpis.csv)" in err and mine.read_text() == "my own table"

    code, _ = _run_main(capsys, *EVAL, "--out", "F")
    assert code == 0
    meta = json.loads((work / "F" / "meta.json").read_text())
    held = sorted(str(p.relative_to(work / "F")) + ("/" if p.is_dir() else "") for p in (work / "F").rglob("*"))
    assert meta["files"] == held  # exactly what the folder holds, no lock file left
    report = (work / "F" / "report.md").read_text()
    assert all(f"- `{name}`" in report for name in held)
    code, err = _run_main(capsys, *EVAL, "--out", "F")  # a second evaluation: no stale outputs beside it
    assert code == 2 and "is not empty" in err

    from agents.runfiles import fresh_folder  # the default --out: a new folder, never an existing one

    assert [fresh_folder(work / "F").name, fresh_folder(work / "F").name] == ["F-2", "F-3"]


# -- 4: checkpoints replaced atomically ---------------------------------------------------------------


def test_a_unit_survives_a_kill_at_every_step_of_its_replacement(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from agents.rl import artifacts

    def writer(version: int):  # type: ignore[no-untyped-def]
        def write(folder: Path) -> None:
            (folder / "model.zip").write_bytes(bytes([version]) * 1000)
            (folder / "state.json").write_text(json.dumps({"version": version}))

        return write

    class KilledError(Exception):
        pass

    real_replace, real_rmtree = os.replace, shutil.rmtree

    def step(real, calls: dict[str, int], kill_at: int):  # type: ignore[no-untyped-def]
        def wrapped(*args, **kwargs):  # type: ignore[no-untyped-def]
            calls["n"] += 1
            if calls["n"] == kill_at:
                raise KilledError
            return real(*args, **kwargs)

        return wrapped

    def half_written(folder: Path) -> None:
        writer(2)(folder)
        (folder / "model.zip").write_bytes(b"half")
        raise KilledError

    for kill_at in range(6):  # 0: while writing; 1, 2: the two renames; 3-5: the removals
        run = tmp_path / f"run{kill_at}"
        run.mkdir()
        artifacts.save_unit(run, "checkpoint", writer(1), {"timesteps": 1})
        calls = {"n": 0}
        write = half_written if kill_at == 0 else writer(2)
        monkeypatch.setattr(artifacts.os, "replace", step(real_replace, calls, kill_at))
        monkeypatch.setattr(artifacts.shutil, "rmtree", step(real_rmtree, calls, kill_at))
        try:
            artifacts.save_unit(run, "checkpoint", write, {"timesteps": 2})
        except KilledError:
            pass
        monkeypatch.setattr(artifacts.os, "replace", real_replace)
        monkeypatch.setattr(artifacts.shutil, "rmtree", real_rmtree)
        unit = artifacts.recover_unit(run, "checkpoint")
        assert unit == run / "checkpoint", kill_at
        manifest = artifacts.verify_unit(unit)
        version = json.loads((unit / "state.json").read_text())["version"]
        assert manifest["timesteps"] == version and version in (1, 2), kill_at
        assert sorted(p.name for p in run.iterdir()) == ["checkpoint"], kill_at


def test_resume_recovers_a_complete_checkpoint_tmp(
    trained: Path, work: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # a kill between removing checkpoint/ and renaming checkpoint.tmp/ left no checkpoint/ before
    # (the kill is simulated by the folder it leaves; every kill point: test_a_unit_survives_a_kill...)
    run = _copy(trained, work / "run")
    (run / "checkpoint").rename(run / "checkpoint.tmp")
    code, err = _run_main(capsys, "train", "--resume", str(run), "train.total_timesteps=768", "--no-progress")
    assert code == 0, err
    assert json.loads((run / "summary.json").read_text())["num_timesteps"] == 768
    assert (run / "checkpoint").is_dir() and not (run / "checkpoint.tmp").exists()


# -- 5, 9: the model and its normaliser are one unit, the normaliser no pickle -------------------------


def test_a_run_missing_its_normaliser_is_an_error_naming_the_file(
    trained: Path, work: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run = _copy(trained, work / "run")
    removed = [p for p in (run / "best_vecnormalize.pkl", run / "best" / "normalizer.npz") if p.exists()]
    for p in removed:
        p.unlink()
    assert removed
    code, err = _run_main(capsys, *EVAL, "--policy", f"ppo={run}", "--out", "E")
    assert code == 2 and str(removed[0]) in err and "missing" in err
    assert not (work / "E").exists()  # found before the output folder was made


def test_the_normaliser_is_stored_without_pickle_and_the_readme_warns(trained: Path) -> None:
    from agents.rl.artifacts import ObsNormalizer
    from agents.rl.policy import RlPolicy

    assert not list(trained.rglob("*vecnormalize*"))
    for unit in ("best", "final", "checkpoint"):
        with np.load(trained / unit / "normalizer.npz", allow_pickle=False) as data:
            assert data["obs_mean"].shape == data["obs_var"].shape
        assert isinstance(RlPolicy.load(trained).normalizer, ObsNormalizer)
    readme = (ROOT / "README.md").read_text()
    assert "load only runs you trust" in readme.lower()


# -- 10: interrupts and errors before the first checkpoint --------------------------------------------


def test_an_interrupted_start_is_marked_and_both_commands_say_what_to_do(
    work: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import agents.rl.train as train_module

    def interrupted(*_args: object, **_kwargs: object) -> None:
        raise KeyboardInterrupt

    with monkeypatch.context() as m:
        m.setattr(train_module, "build_model", interrupted)
        code, err = _run_main(capsys, "train", "smoke.yaml", "--out", "R", "--no-progress")
        assert code == 130
        lines = [line for line in err.splitlines() if line.strip()]
        assert len(lines) == 1 and "interrupted before the first checkpoint" in lines[0], err
        assert "vpp-gym train --resume R" in lines[0] and "--force" in lines[0]
        assert (work / "R" / "INCOMPLETE").is_file()
        code, err = _run_main(capsys, "train", "smoke.yaml", "--out", "R")  # a new run into it
        assert code == 2 and "vpp-gym train --resume R starts it over from step 0" in err and "--force" in err
        assert _run_main(capsys, "train", "smoke.yaml", "--out", "S", "--no-progress")[0] == 130
    assert _run_main(capsys, "train", "--resume", "R", "--no-progress")[0] == 0  # from the start
    assert json.loads((work / "R" / "summary.json").read_text())["num_timesteps"] == 512
    assert not (work / "R" / "INCOMPLETE").exists()
    assert _run_main(capsys, "train", "smoke.yaml", "seed=4", "--out", "S", "--force", "--no-progress")[0] == 0
    assert json.loads((work / "S" / "meta.json").read_text())["seeds"]["agent"] == 4


def test_force_removes_only_the_run_files(work: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (work / "R").mkdir()
    (work / "R" / "INCOMPLETE").write_text("")
    (work / "R" / "mine.txt").write_text("mine")
    code, err = _run_main(capsys, "train", "smoke.yaml", "--out", "R", "--force")
    assert code == 2 and "mine.txt" in err and (work / "R" / "mine.txt").read_text() == "mine"


def test_config_errors_are_found_before_the_run_folder_is_made(work: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for override, message in (
        ("train.device=tpu", "train.device: got 'tpu'"),
        ("eval.days=400", "eval.days: got 400"),
        ("agent.learnin_rate=1", "unknown key 'learnin_rate'"),
    ):
        code, err = _run_main(capsys, "train", "smoke.yaml", "--out", "R", "--no-progress", override)
        assert code == 2 and message in err, err
        assert not (work / "R").exists()
    sac = {**SMOKE, "algo": "sac", "agent": {"buffer_size": 100, "demo_episodes": 16, "demo_policy": "rule"}}
    (work / "sac.yaml").write_text(yaml.safe_dump(sac))
    code, err = _run_main(capsys, "train", "sac.yaml", "--out", "R")
    assert code == 2 and "agent.demo_episodes" in err and not (work / "R").exists()
    for override in ("seed=-1", "eval.days=400"):  # the default folder is not made either
        code, err = _run_main(capsys, "train", "smoke.yaml", "--no-progress", override)
        assert code == 2 and ("got -1" in err or "got 400" in err)
        assert not (work / "runs").exists()


def _wait_for_line(path: Path, text: str, proc: subprocess.Popen[str]) -> None:
    _wait_for(lambda: path.is_file() and text in path.read_text(), proc=proc)


@pytest.mark.slow
def test_ctrl_c_during_sac_demonstrations_is_one_line(work: Path) -> None:
    sac = {
        **SMOKE,
        "algo": "sac",
        "agent": {"buffer_size": 2000, "learning_starts": 100, "demo_episodes": 2, "demo_policy": "mpc"},
        "train": {**SMOKE["train"], "n_envs": 2},
    }
    (work / "sac.yaml").write_text(yaml.safe_dump(sac))
    proc = _popen(["-m", "agents.cli", "train", "sac.yaml", "--out", "R", "--no-progress"], work)
    _wait_for(lambda: (work / "R" / "meta.json").is_file(), proc=proc)
    time.sleep(0.5)  # in the demonstrations (MPC days)
    proc.send_signal(signal.SIGINT)
    code = proc.wait(timeout=120)
    err = proc.stderr.read()  # type: ignore[union-attr]
    lines = [line for line in err.splitlines() if line.strip()]
    # 130, or death by SIGINT (-2; a shell shows both as 130): seen once under load while MPC's HiGHS
    # solve was running, after the one-line message was printed (to investigate: HiGHS' own SIGINT handling)
    assert code in (130, -signal.SIGINT) and len(lines) == 1, err
    assert "interrupted before the first checkpoint" in lines[0] and "--resume R" in lines[0]
    assert (work / "R" / "INCOMPLETE").is_file()


@pytest.mark.slow
@pytest.mark.parametrize("command", ["evaluate", "run"])
def test_ctrl_c_in_evaluate_and_run_is_one_line(work: Path, command: str) -> None:
    args = ["--env", "vpp_gym/Arbitrage-v1", "--episodes", "6", "--out", "O"]
    args += ["--policies", "rule,mpc"] if command == "evaluate" else ["--no-ppo"]
    log = work / "stdout.txt"
    proc = _popen(["-m", "agents.cli", command, *args], work, out=log)
    _wait_for_line(log, "episode 2/6", proc)
    proc.send_signal(signal.SIGINT)
    code = proc.wait(timeout=120)
    err = proc.stderr.read()  # type: ignore[union-attr]
    assert code == 130 and err.strip() == f"vpp-gym {command}: interrupted", err
    assert not (work / "O").exists()  # the folder it made is gone: nothing was written


# -- 11, 12, 13: run files, layouts, paths ------------------------------------------------------------


def test_a_run_trained_on_another_layout_names_the_differing_keys(
    trained: Path, work: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (work / "eval.yaml").write_text(
        yaml.safe_dump({"env_id": "vpp_gym/Arbitrage-v1", "overrides": {"forecast.horizon_steps": 6}})
    )
    code, err = _run_main(
        capsys, "evaluate", "--config", "eval.yaml", "--episodes", "1", "--policy", f"ppo={trained}", "--out", "E"
    )
    assert code == 2 and "trained on another layout" in err
    assert "forecast.horizon_steps (run: 8, here: 6)" in err


def _truncate(path: Path) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def test_corrupt_run_files_are_errors_naming_the_file(
    trained: Path, work: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run = _copy(trained, work / "a")
    _truncate(run / "checkpoint" / "state.json")
    code, err = _run_main(capsys, "train", "--resume", str(run), "train.total_timesteps=2048")
    assert code == 2 and str(run / "checkpoint" / "state.json") in err

    run = _copy(trained, work / "b")
    _truncate(run / "meta.json")
    code, err = _run_main(capsys, *EVAL, "--policy", f"ppo={run}", "--out", "E")
    assert code == 2 and f"{run / 'meta.json'} is truncated or not valid JSON" in err
    code, err = _run_main(capsys, "train", "--resume", str(run), "train.total_timesteps=2048")
    assert code == 2 and str(run / "meta.json") in err

    run = _copy(trained, work / "c")
    model = next(p for p in (run / "best_model.zip", run / "best" / "model.zip") if p.exists())
    _truncate(model)
    code, err = _run_main(capsys, *EVAL, "--policy", f"ppo={run}", "--out", "E")
    assert code == 2 and str(model) in err and "truncated" in err

    (work / "file").write_text("")
    for args in (
        ["train", "smoke.yaml", "--out", "file"],
        [*EVAL, "--out", "file"],
        ["run", "--no-ppo", "--out", "file"],
    ):
        code, err = _run_main(capsys, *args)
        assert code == 2 and "file is a file, not a folder" in err, args
    (work / "latin1.yaml").write_bytes("name: 'Müller'\n".encode("latin-1"))
    code, err = _run_main(capsys, "train", "latin1.yaml")
    assert code == 2 and "latin1.yaml: not UTF-8 text" in err


def test_run_paths_with_commas_work_with_policy(trained: Path, work: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run = _copy(trained, work / "runs" / "ppo,lr=1e-3")
    code, _ = _run_main(capsys, *EVAL, "--policy", f"ppo={run}", "--out", "E")
    assert code == 0
    meta = json.loads((work / "E" / "meta.json").read_text())
    assert {"label": "ppo", "run": str(run)} in meta["policies"]
    assert "ppo" in (work / "E" / "kpis.csv").read_text()


@pytest.mark.slow
def test_tensorboard_and_curve_have_no_duplicate_steps_after_a_kill_and_resume(work: Path) -> None:
    # the kill is real (SIGKILL of a training process); the resume runs in this process
    cfg = {**SMOKE, "train": {**SMOKE["train"], "total_timesteps": 100_000, "checkpoint_every_steps": 768}}
    (work / "long.yaml").write_text(yaml.safe_dump(cfg))
    proc = _popen(["-m", "agents.cli", "train", "long.yaml", "--out", "R", "--no-progress"], work)

    def evaluated_after_a_checkpoint() -> bool:
        state = work / "R" / "checkpoint" / "state.json"
        curve = work / "R" / "curve.csv"
        if not (state.is_file() and curve.is_file()):
            return False
        try:
            done = json.loads(state.read_text())["num_timesteps"]
        except (ValueError, KeyError):
            return False
        return any(int(line.split(",")[0]) > done for line in curve.read_text().splitlines()[1:])

    _wait_for(evaluated_after_a_checkpoint, proc=proc)
    proc.kill()  # a hard kill: the steps after the checkpoint are logged, and will be played again
    proc.wait(timeout=60)
    proc.stderr.close()  # type: ignore[union-attr]
    proc.stdout.close()  # type: ignore[union-attr]
    assert main(["train", "--resume", "R", "train.total_timesteps=2048", "--no-progress"]) == 0
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    steps = [int(line.split(",")[0]) for line in (work / "R" / "curve.csv").read_text().splitlines()[1:]]
    assert steps == sorted(set(steps)) and steps[-1] == 2048
    (events,) = (work / "R" / "tb").iterdir()
    acc = EventAccumulator(str(events), size_guidance={"scalars": 0})
    acc.Reload()
    for tag in acc.Tags()["scalars"]:
        counts = Counter(e.step for e in acc.Scalars(tag))
        assert max(counts.values()) == 1, (tag, [s for s, n in counts.items() if n > 1])
    # event files are read in name order (time, host, pid): the resumed file may come first
    assert sorted(e.step for e in acc.Scalars("eval/profit")) == steps
