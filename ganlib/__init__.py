"""ganlib: the small shared package behind the GAN course.

Conventions, said once: images are float32 in [-1, 1] and generators end in `tanh`;
discriminators return logits (no sigmoid); label 1 means real.
"""

import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # keep TensorFlow's start-up chatter quiet
# TensorFlow runs its CPU kernels on oneDNN only where the CPU has AVX-512 VNNI, BF16 or AMX;
# elsewhere it uses Eigen's, which ran lesson 02's step far slower (docs/experiments.md, lesson
# 02). Read once, when TensorFlow loads: import ganlib before it (the notebooks do so in their
# first cell); TF_ENABLE_ONEDNN_OPTS=0 still turns it off.
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "1")

__version__ = "0.1.0"


def _load_tensorflow_quietly() -> None:
    """Import TensorFlow and Keras and find the devices with the process's stderr pointed at
    /dev/null: the notices TensorFlow's C++ side prints on start-up (oneDNN, CUDA drivers,
    absl) ignore TF_CPP_MIN_LOG_LEVEL and would open every notebook. GANLIB_TF_LOGS=1 keeps
    them; an import that fails still raises, and says how to see them."""
    if os.environ.get("GANLIB_TF_LOGS", "").strip().lower() in {"1", "true", "yes", "on"} or (
            "tensorflow" in sys.modules):
        return
    sys.stderr.flush()
    saved, quiet = os.dup(2), os.open(os.devnull, os.O_WRONLY)
    os.dup2(quiet, 2)
    try:
        import keras  # noqa: F401
        import tensorflow as tf

        tf.config.list_physical_devices()
    except ImportError as e:
        raise ImportError(f"{e} (GANLIB_TF_LOGS=1 shows TensorFlow's own start-up "
                          "messages)") from e
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(quiet)


_load_tensorflow_quietly()
