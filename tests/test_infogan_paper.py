"""`infogan.paper(cfg)`: the lesson's settings with the course's additions switched off."""

import dataclasses

from ganlib.lessons import expect, infogan


def test_paper_switches_off_the_course_additions_and_nothing_else():
    cfg = infogan.paper()
    assert cfg.real_info_weight == cfg.consistency_weight == cfg.mode_seeking_weight == 0
    assert cfg.num_continuous == 2  # the paper's MNIST model
    # every other setting is the lesson's default
    assert set(expect.changed_settings(cfg)) == {"real_info_weight", "consistency_weight",
                                                 "num_continuous"}
    assert not expect.at_defaults(cfg)


def test_paper_keeps_the_settings_it_is_given():
    given = dataclasses.replace(infogan.Config().smoke(), seed=3, mode_seeking_weight=0.3,
                                num_categories=20)
    cfg = infogan.paper(given)
    assert cfg.mode_seeking_weight == 0
    assert (cfg.seed, cfg.steps, cfg.num_categories) == (3, given.steps, 20)
    assert infogan.paper(cfg) == cfg  # switching off twice changes nothing more
