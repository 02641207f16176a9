"""The lesson interface: what every lesson module declares about itself, as data.

A lesson is one module under `ganlib/lessons/` that defines

- `NAME`: its name on the command line, in the registry and as its run folder;
- `Config`: a dataclass of every knob, with CPU defaults and a `smoke()` variant for CI;
- `build(cfg, run_dir=None, fresh=False, **overrides) -> Run`: data, networks, step and
  callbacks, with a learner's own networks or step class in place of the lesson's
  (`base.networks`, `base.step_class`);
- `LESSON`: a `Lesson`, below: how it is judged (`Target`, `measure`), its quality benchmark,
  and what it can do.

`lessons.registry` checks each lesson when it registers it; the CLI and the benchmarks read
what a lesson can do from its `Lesson`, never from the shape of its models.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

OPS = ("<=", ">=")
INPUTS = ("noise", "noise+class", "noise+codes", "image")
OUTPUTS = ("images", "points")


@dataclasses.dataclass(frozen=True)
class Target:
    """A lesson's quality target: `metric` compared with `threshold` by `op` ("<=": lower is
    better), and `source`, where the threshold comes from."""

    metric: str
    op: str
    threshold: float
    source: str

    def __post_init__(self):
        if self.op not in OPS:
            raise ValueError(f"Target op must be one of {OPS}, not {self.op!r}.")

    def met(self, value: float) -> bool:
        return value <= self.threshold if self.op == "<=" else value >= self.threshold

    def text(self) -> str:
        return f"{self.metric} {self.op} {self.threshold:g}"


@dataclasses.dataclass(frozen=True)
class QualityBench:
    """A lesson's quality benchmark (`python -m ganlib bench quality NAME`).

    run:       (**options) -> a JSON-able dict of figures; takes `minutes=`.
    runs:      the keyword that `--runs N` sets (e.g. "seeds"), None for a single run.
    first_run: the keyword that `--first-run K` sets (e.g. "first_seed").
    steps:     whether it also takes `steps=`, a step budget in place of minutes.
    """

    run: Callable[..., dict]
    runs: str | None = None
    first_run: str | None = None
    steps: bool = False


@dataclasses.dataclass(frozen=True)
class Lesson:
    """What a lesson says about itself (module `ganlib.lessons.<name>`, `LESSON`).

    number, name, title: notebook `notebooks/<number>_<name>.ipynb`; `name` is also the CLI's
        name and the default run folder.
    target, measure: the lesson's quality target, and `measure(run, smoke)` -> (the value the
        target is about, details), which `bench all` calls during training (`smoke`: a small
        sample, for CI).
    unit: what one "image" of the step's images/s is.
    inputs: what its generator takes: "noise", "noise+class" (samples carry their class),
        "noise+codes" (InfoGAN: categories and continuous codes), or "image" (it translates,
        with `translate(run, images, direction)`).
    output: "images" or "points".
    datasets: what `--dataset` accepts, its default first; () for generated data.
    crop: images -> the dataset's size, for a generator that draws a larger canvas.
    classifier: the run writes a classifier (`classifier.keras`) besides its generator.
    variant: (name, **changes) -> Config, for a lesson with named variants (`variants`).
    quality: its quality benchmark.
    older_runs: the settings runs saved before a field existed trained with.
    former_names: names older runs' config.json may carry.
    """

    number: int
    name: str
    title: str
    target: Target
    measure: Callable
    unit: str
    inputs: str = "noise"
    output: str = "images"
    datasets: tuple[str, ...] = ()
    translate: Callable | None = None
    crop: Callable | None = None
    classifier: bool = False
    variant: Callable | None = None
    variants: tuple[str, ...] = ()
    quality: QualityBench | None = None
    older_runs: dict = dataclasses.field(default_factory=dict)
    former_names: tuple[str, ...] = ()

    def __post_init__(self):
        if self.inputs not in INPUTS:
            raise ValueError(f"lesson {self.name}: inputs must be one of {INPUTS}, not "
                             f"{self.inputs!r}.")
        if self.output not in OUTPUTS:
            raise ValueError(f"lesson {self.name}: output must be one of {OUTPUTS}, not "
                             f"{self.output!r}.")
        if (self.inputs == "image") != (self.translate is not None):
            raise ValueError(f"lesson {self.name}: a generator that takes images needs "
                             "`translate`, and only such a generator has one.")
        if bool(self.variants) != (self.variant is not None):
            raise ValueError(f"lesson {self.name}: `variants` and `variant` go together.")

    @property
    def notebook(self) -> str:
        return f"notebooks/{self.number:02d}_{self.name}.ipynb"

    @property
    def samples(self) -> bool:
        """Whether `sample` draws from it (its generator takes noise, not images)."""
        return self.inputs != "image"
