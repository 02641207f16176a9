"""Settings read once from the environment.

Every knob that the environment can turn lives here, so a lesson, the CLI and the tests
agree on what `GANLIB_SMOKE=1` or `GANLIB_OFFLINE=1` means.
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
# Runs go to the checkout's runs/ (not notebooks/runs, where Jupyter's working directory is);
# an installed ganlib without a checkout uses ./runs.
DEFAULT_OUTPUT_DIR = REPO_ROOT / "runs" if (REPO_ROOT / "notebooks").is_dir() else Path("runs")

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"", "0", "false", "no", "off"}


def _flag(env: dict, name: str) -> bool:
    value = env.get(name, "").strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ValueError(f"{name}={env[name]!r} is not a yes/no value; use 1 or 0.")


@dataclasses.dataclass(frozen=True)
class Settings:
    """What the environment asked for.

    smoke:      shrink every lesson to seconds (CI runs each notebook this way).
    seed:       default seed for data order, noise and weights.
    data_dir:   extra place to look for datasets (searched before the repo's `data/`).
    output_dir: where runs write (default: the checkout's runs/); nothing is written outside.
    offline:    never try to download; fail with a clear message instead.
    lessons:    modules of one's own lessons to register (GANLIB_LESSONS, comma-separated).
    """

    smoke: bool = False
    seed: int = 0
    data_dir: Path | None = None
    output_dir: Path = DEFAULT_OUTPUT_DIR
    offline: bool = False
    lessons: tuple[str, ...] = ()

    @classmethod
    def from_env(cls, env: dict | None = None) -> Settings:
        env = os.environ if env is None else env
        seed_text = env.get("GANLIB_SEED", "0")
        try:
            seed = int(seed_text)
        except ValueError:
            raise ValueError(f"GANLIB_SEED={seed_text!r} is not an integer.") from None
        data_dir = env.get("GANLIB_DATA_DIR")
        return cls(
            smoke=_flag(env, "GANLIB_SMOKE"),
            seed=seed,
            data_dir=Path(data_dir).expanduser() if data_dir else None,
            output_dir=Path(env.get("GANLIB_OUTPUT_DIR") or DEFAULT_OUTPUT_DIR).expanduser(),
            offline=_flag(env, "GANLIB_OFFLINE"),
            lessons=tuple(n.strip() for n in env.get("GANLIB_LESSONS", "").split(",")
                          if n.strip()),
        )


def settings() -> Settings:
    """The current settings (re-read each call, so tests and notebooks can change them)."""
    return Settings.from_env()
