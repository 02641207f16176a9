"""`bench quality LESSON`: a lesson's own quality benchmark (its `LESSON.quality`), with the
command line's budget and run options checked against what that benchmark takes."""

from __future__ import annotations

from .. import lessons


def with_quality() -> list[str]:
    """The lessons that declare a quality benchmark."""
    return [name for name, m in lessons.LESSONS.items() if m.LESSON.quality is not None]


def options(name: str, minutes: float | None = None, steps: int | None = None, runs: int = 3,
            first_run: int = 0) -> dict:
    """The keyword arguments of lesson `name`'s quality benchmark for the command line's
    `--minutes`, `--steps`, `--runs` and `--first-run`, or a ValueError saying what is wrong."""
    quality = lessons.get(name).LESSON.quality
    if quality is None:
        raise ValueError(f"no quality benchmark for lesson {name!r} yet; use one of "
                         f"{', '.join(with_quality())}.")
    if runs < 1:
        raise ValueError(f"--runs must be at least 1, got {runs}.")
    if first_run < 0:
        raise ValueError(f"--first-run must be 0 or more, got {first_run}.")
    if minutes is not None and minutes <= 0:
        raise ValueError(f"--minutes must be positive, got {minutes}.")
    if first_run and quality.first_run is None:
        several = [n for n in with_quality() if lessons.get(n).LESSON.quality.first_run]
        raise ValueError(f"--first-run is for `bench quality {'`, `'.join(several)}`; "
                         f"`bench quality {name}` trains seed 0 only.")
    kwargs = {} if minutes is None else {"minutes": minutes}
    if steps is not None:
        stepped = [n for n in with_quality() if lessons.get(n).LESSON.quality.steps]
        if not quality.steps or minutes is not None or steps < 1:
            raise ValueError(f"--steps (a positive step budget, got {steps}) is for "
                             f"`bench quality {'` or `'.join(stepped)}`, without --minutes.")
        kwargs = {"steps": steps}
    if quality.runs:
        kwargs[quality.runs] = runs
    if quality.first_run:
        kwargs[quality.first_run] = first_run
    return kwargs


def bench_quality(name: str, **cli_options) -> dict:
    """Run lesson `name`'s quality benchmark with the command line's options (`options`)."""
    kwargs = options(name, **cli_options)  # a clear ValueError before any lookup or work
    return lessons.get(name).LESSON.quality.run(**kwargs)
