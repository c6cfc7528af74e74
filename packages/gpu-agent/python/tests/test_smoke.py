"""The foundation: fastai imports and trains for real on the CPU with tiny data."""

import time

import torch
from torch import nn


def test_fastai_trains_one_epoch_on_cpu(tmp_path):
    from fastai.vision.all import (CategoryBlock, DataBlock, ImageBlock, RandomSplitter, Learner,
                                   accuracy, get_image_files, parent_label)
    from conftest import write_digits

    write_digits(tmp_path / "digits", range(200), size=16)
    dls = DataBlock(blocks=(ImageBlock, CategoryBlock), get_items=get_image_files,
                    get_y=parent_label, splitter=RandomSplitter(0.2, seed=0)
                    ).dataloaders(tmp_path / "digits", bs=32, num_workers=0, device="cpu")
    model = nn.Sequential(nn.Conv2d(3, 16, 3, stride=2, padding=1), nn.ReLU(),
                          nn.Conv2d(16, 32, 3, stride=2, padding=1), nn.ReLU(),
                          nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(32, dls.c))
    learn = Learner(dls, model, metrics=accuracy)
    t0 = time.monotonic()
    with learn.no_bar(), learn.no_logging():
        learn.fit_one_cycle(1, 1e-2)
    train_loss, valid_loss, acc = learn.recorder.values[-1]
    assert torch.isfinite(torch.tensor([train_loss, valid_loss])).all()
    assert 0 <= acc <= 1
    assert next(learn.model.parameters()).device.type == "cpu"
    assert time.monotonic() - t0 < 30
