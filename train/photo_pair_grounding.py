"""Grounding on real photographs: two captioned photos side by side, find one by its caption.

    python -m train.photo_pair_grounding --pairs 80

Each pair of the hand-captioned photo set (``train/data/photos``, built with ``make photo-set``)
is pasted side by side (320 px squares, the target left or right in turn); a hit is a best box
whose centre lies on the target's half. It compares mini grounding in context (the whole image
with the phrase, MMEB's query) and on the phrase alone, with label-bridge. Chance is 50 %.
"""

from __future__ import annotations

import argparse
import json
import random
from pathlib import Path

from PIL import Image

from vsearch.encoders import load_encoder
from vsearch.query.ground import ground

SIDE = 320


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=80)
    parser.add_argument("--photos", type=Path, default=Path("train/data/photos"))
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    captions = json.loads((args.photos / "captions.json").read_text())
    images = args.photos / "built" / "images"
    rng = random.Random(args.seed)
    pairs = [rng.sample(range(len(captions)), 2) for _ in range(args.pairs)]
    mini, bridge = load_encoder("mini"), load_encoder("label-bridge")
    ways = {"mini, in context": (mini, True), "mini, phrase alone": (mini, False)}
    ways["label-bridge"] = (bridge, None)
    hits = dict.fromkeys(ways, 0)
    for n, (target, other) in enumerate(pairs):
        on_left = n % 2 == 0
        canvas = Image.new("RGB", (2 * SIDE, SIDE))
        for index, x in ((target, 0 if on_left else SIDE), (other, SIDE if on_left else 0)):
            photo = Image.open(images / f"{captions[index]['id']}.jpg").convert("RGB")
            canvas.paste(photo.resize((SIDE, SIDE)), (x, 0))
        phrase = captions[target]["caption"]
        for name, (encoder, context) in ways.items():
            box = ground(encoder, canvas, phrase, top=1, context=context)[0].box
            hits[name] += ((box[0] + box[2]) / 2 < SIDE) == on_left
    print(f"{len(pairs)} photo pairs; the best box on the target's half:")
    for name, count in hits.items():
        print(f"{name:>20}: {100 * count / len(pairs):.1f} %")


if __name__ == "__main__":
    main()
