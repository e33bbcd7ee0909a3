"""With ``SASS_LAB_FAKE_GPU=1`` and this folder on PYTHONPATH, every Python process of the rehearsal
(pytest, bench children, tuner workers) gets the stand-in driver in place of ``cuda.bindings.driver``."""

import os
import sys

if os.environ.get("SASS_LAB_FAKE_GPU") == "1":
    try:
        import cuda_standin

        cuda_standin.install()
    except Exception as e:  # noqa: BLE001 - say so and run without it
        sys.stderr.write(f"sitecustomize: the stand-in driver could not be installed: {e}\n")
