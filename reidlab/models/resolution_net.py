"""A light resolution classifier: the CPU profiles' B-R (a labelled deviation from RFD).

RFD's B-R is the re-id network itself (MGN with channel attention) trained on resolution
classes. On a 2-core CPU that network, fine-tuned for a minute from the pre-training
stand-in, stays near 60% held-out accuracy on the synthetic factor classes, while six
hand-made high-frequency statistics of the same images (Laplacian and gradient energy) separate
them at 97% (measured on SynthPeople): the task is easy, the deep network is slow to learn it,
because its stem down-samples by four before the detail that tells x2 from HR is looked at.

:class:`ResolutionNet` looks at full resolution first: two 3x3 convolutions at stride 1, two at
stride 2, average and max pooling of the last map, a ``feat_dim`` embedding (its features
are B-R's features in Eq. 7) and one classifier. It has the MGN model's interface, so training
(cross entropy + batch-hard triplet on the embedding), extraction and prediction treat it
alike: ``model.eval()(x)`` is the ``(N, feat_dim)`` descriptor, ``model.train()(x)`` the dict of
logits, triplet features and features, ``model.classify(x)`` the list of logits.
"""
from __future__ import annotations

import torch
from torch import nn

__all__ = ["ResolutionNet"]


def _conv(cin: int, cout: int, stride: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, 3, stride=stride, padding=1, bias=False),
                         nn.BatchNorm2d(cout), nn.ReLU(inplace=True))


class ResolutionNet(nn.Module):
    """Light B-R: full-resolution convolutions, pooled statistics, an embedding, a classifier.

    Args:
        num_classes: resolution classes (4 factor classes or the pseudo-label bins).
        width: channels of the first two convolutions (the last two have twice as many).
        feat_dim: width of the embedding (B-R's feature for Eq. 7).
    """

    def __init__(self, num_classes: int, *, width: int, feat_dim: int = 64) -> None:
        super().__init__()
        if num_classes < 1 or width < 1 or feat_dim < 1:
            raise ValueError(f"num_classes, width and feat_dim must be >= 1, got {num_classes}, {width}, {feat_dim}")
        self.num_classes, self.feat_dim = num_classes, feat_dim
        self.body = nn.Sequential(_conv(3, width, 1), _conv(width, width, 1),
                                  _conv(width, 2 * width, 2), _conv(2 * width, 2 * width, 2))
        self.embed = nn.Sequential(nn.Linear(4 * width, feat_dim), nn.BatchNorm1d(feat_dim))
        self.classifier = nn.Linear(feat_dim, num_classes)

    @property
    def out_dim(self) -> int:
        return self.feat_dim

    def features(self, x: torch.Tensor) -> torch.Tensor:
        fmap = self.body(x)
        pooled = torch.cat([fmap.mean(dim=(2, 3)), fmap.amax(dim=(2, 3))], dim=1)
        return self.embed(pooled)

    def classify(self, x: torch.Tensor) -> list[torch.Tensor]:
        return [self.classifier(self.features(x))]

    def forward(self, x: torch.Tensor) -> torch.Tensor | dict[str, torch.Tensor | list[torch.Tensor]]:
        feats = self.features(x)
        if not self.training:
            return feats
        return {"logits": [self.classifier(feats)], "triplet": [feats], "features": feats}
