"""The gpu-check's baseline: the same fastai fit the agent's vision task runs, in plain fastai.

It builds what gpulink_worker's vision task builds for folder labels (a DataBlock of ImageBlock and
CategoryBlock, Resize only, a seeded RandomSplitter, vision_learner, to_fp16 on a GPU, fit_one_cycle,
DataLoader workers only on a GPU) without gpulink's callback, and times each epoch from before_epoch
to after_epoch, as the worker's epoch events do, so images/s compare like with like. Prints one JSON
line: {"trainItems", "epochSeconds", "accuracy", "fp16", "device"}.

    python direct_fit.py DATA_DIR --arch resnet18 --size 64 --bs 64 --epochs 3 --lr 0.01 [--fp16]
"""
import argparse
import json
import os
import time

import fastai.vision.all  # noqa: F401  what the worker imports: the default callbacks, Learner.no_bar
import torch
import torchvision.models as tvm
from fastai.callback.core import Callback
from fastai.data.block import CategoryBlock, DataBlock
from fastai.data.transforms import RandomSplitter, get_image_files, parent_label
from fastai.metrics import accuracy
from fastai.torch_core import set_seed
from fastai.vision.augment import Resize
from fastai.vision.data import ImageBlock
from fastai.vision.learner import vision_learner


class EpochTimer(Callback):
    order = -100  # before every other callback, as the worker's own timing is

    def before_fit(self):
        self.seconds = []

    def before_epoch(self):
        self.t0 = time.perf_counter()

    def after_epoch(self):
        self.seconds.append(time.perf_counter() - self.t0)


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("data")
    p.add_argument("--arch", default="resnet18")
    p.add_argument("--size", type=int, default=64)
    p.add_argument("--bs", type=int, default=64)
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--lr", type=float, default=0.01)
    p.add_argument("--valid-pct", type=float, default=0.2)
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--fp16", action="store_true")
    a = p.parse_args()

    on_cuda = torch.cuda.is_available()
    device = torch.device("cuda:0" if on_cuda else "cpu")
    set_seed(a.seed)
    block = DataBlock(blocks=(ImageBlock, CategoryBlock), item_tfms=Resize(a.size), get_y=parent_label,
                      splitter=RandomSplitter(a.valid_pct, seed=a.seed))
    items = sorted(get_image_files(a.data))
    dls = block.dataloaders(items, path=a.data, bs=a.bs, device=device,
                            num_workers=min(4, os.cpu_count() or 1) if on_cuda else 0)
    learn = vision_learner(dls, getattr(tvm, a.arch), pretrained=False, metrics=accuracy)
    fp16 = a.fp16 and on_cuda
    if fp16:
        learn = learn.to_fp16()
    timer = EpochTimer()
    with learn.no_bar(), learn.no_logging():
        learn.fit_one_cycle(a.epochs, a.lr, cbs=[timer])
    print(json.dumps({
        "trainItems": len(dls.train_ds),
        "epochSeconds": timer.seconds,
        "accuracy": float(learn.recorder.values[-1][2]),
        "fp16": fp16,
        "device": str(device),
    }))


if __name__ == "__main__":
    main()
