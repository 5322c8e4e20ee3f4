"""Helper process for the kill-and-resume test: trains the tiny GRPO run with a checkpoint every step.

Usage: python _ckpt_run.py OUTPUT_DIR MARKER_FILE

While it writes step 3's checkpoint (after the model weights, before the optimizer state), it creates
MARKER_FILE and stalls, so the test can SIGKILL it mid-save with step 2's checkpoint complete on disk.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))


def main() -> None:
    out, marker = sys.argv[1], Path(sys.argv[2])
    import agentgym.trainers.runtime as base
    import torch
    from _ckpt_common import make_trainer

    torch.set_num_threads(1)
    trainer = make_trainer(output_dir=out, checkpoint_every=1)
    real_save = base.save_pickle

    def stalling_save(obj, path):
        if trainer.step == 3 and path.name == "optimizer.pt":
            marker.write_text(str(path))
            time.sleep(120)  # the test kills us here
        real_save(obj, path)

    base.save_pickle = stalling_save
    trainer.train()


if __name__ == "__main__":
    main()
