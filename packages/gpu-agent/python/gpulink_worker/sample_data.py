"""Real, offline sample datasets for demos, tests and benchmarks (scikit-learn ships them).

    python -m gpulink_worker.sample_data digits OUT_DIR [--size 32] [--holdout 10]
    python -m gpulink_worker.sample_data breast_cancer OUT.csv

`digits` writes scikit-learn's 1,797 8x8 handwritten digits as PNG files, one folder per label
(OUT_DIR/train/<label>/<n>.png), upscaled to --size pixels; the last --holdout images go to
OUT_DIR/holdout/<label>_<n>.png for predictions. `breast_cancer` writes the Wisconsin breast cancer
table as CSV with a `diagnosis` column ("malignant"/"benign").
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def write_digits(out: Path, size: int = 32, holdout: int = 10) -> int:
    import numpy as np
    from PIL import Image
    from sklearn.datasets import load_digits

    digits = load_digits()
    images = digits.images  # values 0..16
    labels = digits.target
    count = len(images) - holdout
    for i, (img, label) in enumerate(zip(images, labels)):
        pixels = (img * (255.0 / 16.0)).clip(0, 255).astype(np.uint8)
        picture = Image.fromarray(pixels).resize((size, size), Image.NEAREST)
        if i < count:
            target = out / "train" / str(label) / f"{i}.png"
        else:
            target = out / "holdout" / f"{label}_{i}.png"
        target.parent.mkdir(parents=True, exist_ok=True)
        picture.save(target)
    return len(images)


def write_breast_cancer(out: Path) -> int:
    from sklearn.datasets import load_breast_cancer

    data = load_breast_cancer(as_frame=True)
    frame = data.frame.rename(columns=lambda c: c.replace(" ", "_"))
    frame["diagnosis"] = [data.target_names[t] for t in frame.pop("target")]
    out.parent.mkdir(parents=True, exist_ok=True)
    frame.to_csv(out, index=False)
    return len(frame)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m gpulink_worker.sample_data")
    parser.add_argument("dataset", choices=["digits", "breast_cancer"])
    parser.add_argument("out", type=Path)
    parser.add_argument("--size", type=int, default=32)
    parser.add_argument("--holdout", type=int, default=10)
    args = parser.parse_args(argv)
    if args.dataset == "digits":
        n = write_digits(args.out, args.size, args.holdout)
    else:
        n = write_breast_cancer(args.out)
    print(f"wrote {n} {args.dataset} items to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
