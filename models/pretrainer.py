"""ELECTRA generator + discriminator with replaced token detection (paper, sec. 2)."""
from __future__ import annotations

import keras
from keras import ops

from configs import ModelConfig
from models.embeddings import EmbeddingBlock
from models.encoder import Encoder
from models.heads import MaskedLMHead, ReplacedTokenHead
from models.masking import gather_positions, mask_tokens, scatter_positions
from models.sampling import gumbel_max_sample


class ElectraPretrainer(keras.Model):
    """Generator (small masked LM) and discriminator sharing one embedding block.

    special_ids: {"pad", "cls", "sep", "mask"} -> token id.
    Call: {"input_ids", "input_mask", "segment_ids"}, each (B, T) int, -> dict:
      mlm_logits (B, P, V), mlm_targets (B, P), mlm_weights (B, P), sampled_ids (B, P),
      disc_input_ids (B, T) (generator samples in place), disc_labels (B, T) 1 = replaced,
      disc_logits (B, T), input_mask (B, T).
    Masking and sampling draw from `seed_generator`, whose state is a variable
    (it is saved in checkpoints, so a resumed run draws what the original would).
    """

    def __init__(self, config: ModelConfig, special_ids: dict, seed: int = 0, **kwargs):
        super().__init__(**kwargs)
        self.config = config
        self.special_ids = {k: int(special_ids[k]) for k in ("pad", "cls", "sep", "mask")}
        disc_config, gen_config = config.encoder, config.generator_encoder()
        self.embeddings = EmbeddingBlock(disc_config, name="embeddings")
        self.generator = Encoder(gen_config, self.embeddings, name="generator")
        self.generator_head = MaskedLMHead(gen_config, self.embeddings, name="generator_head")
        self.discriminator = Encoder(disc_config, self.embeddings, name="discriminator")
        self.discriminator_head = ReplacedTokenHead(disc_config, name="discriminator_head")
        self.seed_generator = keras.random.SeedGenerator(seed, name="rtd_seed")

    def discriminate(self, input_ids, input_mask, segment_ids, training=None):
        """Replaced-token logits (B, T) for input ids (B, T)."""
        hidden = self.discriminator(input_ids, input_mask, segment_ids, training=training)
        return self.discriminator_head(hidden)

    def call(self, features, training=None):
        c = self.config
        input_ids = ops.cast(features["input_ids"], "int32")
        input_mask = ops.cast(features["input_mask"], "int32")
        segment_ids = ops.cast(features["segment_ids"], "int32")
        special = (self.special_ids["pad"], self.special_ids["cls"], self.special_ids["sep"])
        masked = mask_tokens(
            input_ids, input_mask, special_ids=special, mask_id=self.special_ids["mask"],
            mask_rate=c.mask_rate, max_predictions=c.max_predictions_per_seq,
            mask_token_fraction=c.mask_token_fraction, seed=self.seed_generator)

        gen_hidden = self.generator(masked.input_ids, input_mask, segment_ids, training=training)
        mlm_logits = self.generator_head(gather_positions(gen_hidden, masked.positions))
        sampled = gumbel_max_sample(mlm_logits, c.temperature, self.seed_generator)

        disc_input_ids = scatter_positions(input_ids, masked.positions, sampled, masked.weights)
        # A sample equal to the original token counts as original.
        disc_labels = ops.cast(ops.not_equal(disc_input_ids, input_ids), "int32") * input_mask
        disc_logits = self.discriminate(disc_input_ids, input_mask, segment_ids, training=training)
        return {
            "mlm_logits": mlm_logits,
            "mlm_targets": masked.targets,
            "mlm_weights": masked.weights,
            "sampled_ids": sampled,
            "disc_input_ids": disc_input_ids,
            "disc_labels": disc_labels,
            "disc_logits": disc_logits,
            "input_mask": input_mask,
        }
