"""ALBERT's sharing ablations (the ALBERT paper, sec. 4.5, Table 4): only the
attention blocks, or only the feed-forward blocks, shared across layers.

Each of the L layers is its own TransformerLayer; within a weight group
(models.encoder.layer_groups) every layer uses the first layer's shared
sub-blocks, each with its add & LayerNorm. Sharing everything ("all") needs
none of this: the encoder then runs one TransformerLayer per group.
"""

from __future__ import annotations

# TransformerLayer attributes that make up each block.
BLOCKS = {
    "attention": ("query", "key", "value", "attention_output", "attention_norm"),
    "ffn": ("intermediate", "output_dense", "output_norm"),
}


def tie_sublayers(layers: list, groups: list[int], block: str) -> None:
    """Makes layers[i] use the `block` sub-layers of the first layer of its group.

    layers: L unbuilt TransformerLayers; groups: the weight group of each layer.
    The replaced sub-layers were never built (they hold no weights) and are
    untracked, so each shared weight appears once.
    """
    owners = {}
    for layer, group in zip(layers, groups):
        owner = owners.setdefault(group, layer)
        if owner is layer:
            continue
        for name in BLOCKS[block]:
            layer._tracker.untrack(getattr(layer, name))
            setattr(layer, name, getattr(owner, name))
