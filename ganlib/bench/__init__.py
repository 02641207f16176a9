"""The benchmarks: figures printed and written as JSON, never asserted (tests check behaviour,
these measure). They sit above the lessons and read what each declares; nothing imports them.

`step`:    the speed of one train step against the classic Keras loop (`bench step`).
`quality`: a lesson's own quality benchmark, by name (`bench quality LESSON`).
`all`:     every lesson's images/s, peak memory and time to its target (`bench all`).
"""
