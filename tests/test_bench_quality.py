"""`bench quality`: each lesson's quality benchmark runs end to end on a tiny budget."""
import numpy as np
import pytest

from ganlib import metrics


def test_quality_bench_of_cgan_reports_its_metric_next_to_real_signs(monkeypatch):
    import dataclasses

    from ganlib.lessons import cgan

    tiny = dataclasses.replace(cgan.Config().smoke(), n_per_class=100, width=8)
    monkeypatch.setattr(cgan, "Config", lambda: tiny)
    result = cgan.quality_bench(minutes=0.02, n_per_class=20)
    assert result["bench"] == "quality-cgan" and result["steps"] > 0
    assert set(result["per_class"]) == set(cgan.CLASS_NAMES)
    for who in ("intended_share", "untrained_intended_share", "real_intended_share"):
        assert 0.0 <= result[who] <= 1.0
    assert result["real_intended_share"] > 0.9  # real signs: the judge knows them


def test_quality_bench_of_a_lesson_without_one_is_a_clear_error(capsys):
    from ganlib import cli

    assert cli.main(["bench", "quality", "sine"]) == 2
    assert "no quality benchmark for lesson 'sine'" in capsys.readouterr().err


def test_quality_bench_of_sgan_averages_label_draws(monkeypatch):
    import dataclasses

    from ganlib.lessons import sgan

    tiny = dataclasses.replace(sgan.Config().smoke(), batch_size=16)
    monkeypatch.setattr(sgan, "Config", lambda: tiny)
    assert tiny.lr_decay_from is not None  # the lesson decays its learning rate over steps
    result = sgan.quality_bench(minutes=0.02, draws=2)
    assert result["minutes"] == 0.02 and result["lr_decay_from"] is None  # constant on minutes
    assert [d["label_seed"] for d in result["draws"]] == [0, 1]
    assert all(d["steps"] > 0 and 0 <= d["gan"] <= 1 and 0 <= d["baseline"] <= 1
               for d in result["draws"])
    mean = np.mean([d["gan"] for d in result["draws"]])
    assert result["mean_gan_accuracy"] == pytest.approx(mean, abs=1e-4)
    assert result["mean_gain_points"] == pytest.approx(
        100 * (result["mean_gan_accuracy"] - result["mean_baseline_accuracy"]), abs=0.02)
    better = np.mean([max(d["baseline"], d["baseline_latest"]) for d in result["draws"]])
    assert result["mean_gain_over_better_baseline_points"] == pytest.approx(
        100 * (mean - better), abs=0.02)
    gains = [d["gain"] for d in result["draws"]]  # two draws: |a - b| / 2 is the std error
    assert result["gain_stderr_points"] == pytest.approx(50 * abs(gains[0] - gains[1]), abs=0.02)


def test_quality_bench_of_sgan_keeps_the_lessons_step_budget(monkeypatch):
    """Without --minutes each draw trains the lesson's step budget, however fast the machine."""
    import dataclasses

    from ganlib.lessons import sgan

    assert sgan.Config().steps and sgan.Config().minutes is None
    tiny = dataclasses.replace(sgan.Config().smoke(), batch_size=16, steps=3)
    monkeypatch.setattr(sgan, "Config", lambda: tiny)
    result = sgan.quality_bench(draws=1)
    assert result["steps"] == 3 and result["minutes"] is None
    assert result["lr_decay_from"] == tiny.lr_decay_from
    assert [d["steps"] for d in result["draws"]] == [3]


def test_quality_bench_of_sgan_takes_a_step_budget(monkeypatch, capsys):
    """`--steps N` trains each draw N steps (instead of the lesson's), and reaches the bench
    from the command line; --steps with --minutes is refused."""
    import dataclasses

    from ganlib import cli
    from ganlib.lessons import sgan

    tiny = dataclasses.replace(sgan.Config().smoke(), batch_size=16, steps=3)
    monkeypatch.setattr(sgan, "Config", lambda: tiny)
    result = sgan.quality_bench(draws=1, steps=2, first_draw=4)
    assert result["steps"] == 2 and result["minutes"] is None
    assert [(d["label_seed"], d["steps"]) for d in result["draws"]] == [(4, 2)]
    assert result["gain_stderr_points"] is None  # one draw has no spread
    called = {}
    quality = dataclasses.replace(sgan.LESSON.quality, run=lambda **kw: called.update(kw) or {})
    monkeypatch.setattr(sgan, "LESSON", dataclasses.replace(sgan.LESSON, quality=quality))
    assert cli.main(["bench", "quality", "sgan", "--steps", "7", "--runs", "2"]) == 0
    assert called == {"steps": 7, "draws": 2, "first_draw": 0}
    called.clear()
    assert cli.main(["bench", "quality", "sgan", "--runs", "3", "--first-run", "6"]) == 0
    assert called == {"draws": 3, "first_draw": 6}
    assert cli.main(["bench", "quality", "sgan", "--steps", "7", "--minutes", "1"]) == 2
    assert "--steps (a positive step budget" in capsys.readouterr().err


def test_quality_bench_of_acgan_compares_with_lesson_02_and_real_images(monkeypatch):
    import dataclasses

    from ganlib.lessons import acgan, dcgan

    tiny = dataclasses.replace(acgan.Config().smoke(), width=8)
    monkeypatch.setattr(acgan, "Config", lambda: tiny)
    tiny02 = dataclasses.replace(dcgan.Config().smoke(), width=8)
    monkeypatch.setattr(dcgan, "Config", lambda: tiny02)
    result = acgan.quality_bench(minutes=0.02, n_per_class=100)
    assert result["bench"] == "quality-acgan" and result["steps"] > 0
    assert result["lesson02_steps"] > 0 and result["lesson02_fid"] > 0
    assert len(result["per_class"]) == 10 and 0 <= result["intended_share"] <= 1
    for v in result["per_class"].values():
        # 100 real images cover their class better than 30 of them repeated
        assert v["real_coverage"] > v["coverage_30_per_class"]
    # a G trained for about a second is still noise: every class is narrow
    assert len(result["narrow_classes"]) == 10


def test_quality_bench_of_dcgan_starts_over_each_time(monkeypatch):
    """Lesson 02's bench run starts from nothing, not from the last bench's checkpoints."""
    import dataclasses

    from ganlib.lessons import dcgan
    from ganlib.lessons.evaluation import scratch_dir

    tiny = dataclasses.replace(dcgan.Config().smoke(), width=8)
    monkeypatch.setattr(dcgan, "Config", lambda: tiny)
    first, _ = dcgan.reference_run(minutes=0.01, n=20, seed=0)
    assert first.trainer.global_step > 0
    (scratch_dir("quality-dcgan") / "left_by_an_old_bench.txt").write_text("old")
    second, _ = dcgan.reference_run(minutes=0.01, n=20, seed=0)
    assert not (scratch_dir("quality-dcgan") / "left_by_an_old_bench.txt").exists()
    assert second.trainer.checkpoints.restored_from is None  # trained from step 0


def test_first_run_is_refused_where_a_bench_has_one_seed_or_below_zero(capsys):
    from ganlib import cli

    assert cli.main(["bench", "quality", "dcgan", "--first-run", "2"]) == 2
    assert "`bench quality dcgan` trains seed 0 only" in capsys.readouterr().err
    assert cli.main(["bench", "quality", "sgan", "--first-run", "-1"]) == 2
    assert "--first-run must be 0 or more, got -1" in capsys.readouterr().err


def test_quality_bench_of_losses_trains_the_seeds_asked_for(monkeypatch):
    from ganlib.lessons import gan_losses

    seen = {}
    monkeypatch.setattr(gan_losses, "compare", lambda seeds, **kw: seen.update(seeds=list(seeds)))
    monkeypatch.setattr(gan_losses, "summary", lambda rows: {})
    monkeypatch.setattr(metrics, "real_reference", lambda dataset, n: {"fid": 0.0})
    gan_losses.quality_bench(minutes=0.01, seeds=2, first_seed=3)
    assert seen == {"seeds": [3, 4]}
