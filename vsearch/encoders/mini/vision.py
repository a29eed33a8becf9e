"""The frozen image side of the mini encoder: EfficientNet-Lite0 features and class evidence.

One forward pass gives both what the transformer reads as visual tokens (the final feature map,
average-pooled to a global cell plus a ``grid x grid`` layout) and what the ImageNet head knows
(class probabilities, hence the top label names and the label-bridge vector).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

FEATURE_DIM = 1280


@dataclass
class ImageEvidence:
    """What the frozen CNN says about a batch of images.

    Attributes:
        cells: ``(n, 1 + grid**2, 1280)`` pooled feature-map cells, the global one first.
        probs: ``(n, 1000)`` ImageNet class probabilities.
    """

    cells: torch.Tensor
    probs: torch.Tensor

    def select(self, index: list[int]) -> ImageEvidence:
        return ImageEvidence(self.cells[index], self.probs[index])

    @staticmethod
    def cat(parts: list[ImageEvidence]) -> ImageEvidence:
        return ImageEvidence(
            torch.cat([p.cells for p in parts]), torch.cat([p.probs for p in parts])
        )


@torch.no_grad()
def image_evidence(classifier: torch.nn.Module, pixels: torch.Tensor, grid: int) -> ImageEvidence:
    """Run EfficientNet-Lite once on ``(n, 3, 224, 224)`` pixels (``image_to_tensor``'s scale)."""
    fmap = classifier.extract_features(pixels)
    pooled = fmap.mean(dim=(2, 3))
    logits = classifier._fc(pooled)  # the head's own path, less its (inactive) dropout
    cells = [pooled.unsqueeze(1)]
    if grid:
        cells.append(F.adaptive_avg_pool2d(fmap, grid).flatten(2).transpose(1, 2))
    return ImageEvidence(
        cells=torch.cat(cells, dim=1).float(),
        probs=logits.softmax(dim=-1).float(),
    )
