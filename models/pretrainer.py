"""ELECTRA generator + discriminator with replaced token detection (paper, sec. 2),
and the paper's variants (sec. 3.1-3.2): weight sharing, fixed generators, the
BERT, ELECTRA 15%, Replace MLM and All-Tokens MLM objectives.
"""

from __future__ import annotations

import keras
from keras import ops

from configs import ModelConfig
from models.embeddings import EmbeddingBlock
from models.encoder import Encoder
from models import hash_random
from models.fixed_generators import FixedDistributionHead, unigram_logits
from models.heads import MaskedLMHead, ReplacedTokenHead
from models.masking import (
    BERT_MASK_FRACTION,
    BERT_RANDOM_FRACTION,
    gather_positions,
    mask_tokens,
    positions_indicator,
)
from models.sampling import gumbel_max_sample, replace_tokens


class ElectraPretrainer(keras.Model):
    """Generator and discriminator (the model that is kept), wired by `config`.

    special_ids: {"pad", "cls", "sep", "mask"} -> token id (other keys ignored).
    Call: {"input_ids", "input_mask", "segment_ids"}, each (B, T) int, -> dict,
    P = min(max_predictions_per_seq, T):
      generator side (every objective): generator_input_ids (B, T) (masked),
        mlm_positions, mlm_targets (B, P) int, mlm_weights (B, P) float 1/0,
        mlm_logits (B, P, V), input_mask (B, T);
      ELECTRA objectives and the MLM variants: sampled_ids (B, P),
        disc_input_ids (B, T) (samples in place), disc_labels (B, T) 1 = replaced;
      electra, electra_15, all_tokens_mlm: disc_logits (B, T) replaced logits,
        disc_weights (B, T) (tokens the loss counts: non-padding, or the masked
        positions for electra_15); in all_tokens_mlm the copy probability of
        each token is sigmoid(-disc_logits);
      replace_mlm: main_mlm_logits (B, P, V), main_mlm_targets, main_mlm_weights (B, P);
      all_tokens_mlm: main_mlm_logits (B, T, V), main_mlm_targets = input ids,
        main_mlm_weights = input_mask (B, T).
    For objective "mlm" the masked LM is the discriminator-size encoder
    (`generator` is `discriminator`) and there is no discriminator head.
    Masking and sampling draw one word per call from `seed_generator`, whose
    state is a variable (it is saved in checkpoints, so a resumed run draws what
    the original would); each example's draws are hashes of that word, its ids
    and positions (models.hash_random), so they do not depend on how the batch
    is split across replicas. Dropout masks do depend on the split (Keras seeds them).
    """

    def __init__(self, config: ModelConfig, special_ids: dict, seed: int = 0, **kwargs):
        super().__init__(**kwargs)
        self.config = config
        self.special_ids = {k: int(special_ids[k]) for k in ("pad", "cls", "sep", "mask")}
        disc_config = config.encoder
        self.embeddings = EmbeddingBlock(disc_config, name="embeddings")
        if config.objective == "mlm":
            self.discriminator = Encoder(disc_config, self.embeddings, name="discriminator")
            self.generator = self.discriminator
            self.generator_head = MaskedLMHead(disc_config, self.embeddings, name="generator_head")
        else:
            self._build_generator(config)
            if self.generator is None or config.sharing != "all":
                self.discriminator = Encoder(disc_config, self.embeddings, name="discriminator")
            if config.objective != "replace_mlm":
                self.discriminator_head = ReplacedTokenHead(disc_config, name="discriminator_head")
            if config.objective in ("replace_mlm", "all_tokens_mlm"):
                self.discriminator_mlm_head = MaskedLMHead(
                    disc_config, self.embeddings, name="discriminator_mlm_head"
                )
        self.seed_generator = keras.random.SeedGenerator(seed, name="rtd_seed")

    def _build_generator(self, config: ModelConfig) -> None:
        """Sets generator (Encoder or None) and generator_head."""
        self.generator = None
        if config.generator != "masked_lm":
            self.generator_head = FixedDistributionHead(
                config.encoder.vocab_size, name=f"{config.generator}_generator"
            )
            return
        gen_config = config.generator_encoder()
        if config.sharing == "all":
            self.discriminator = Encoder(config.encoder, self.embeddings, name="discriminator")
            self.generator = self.discriminator
        elif config.sharing == "embeddings":
            self.generator = Encoder(gen_config, self.embeddings, name="generator")
        else:
            own = EmbeddingBlock(gen_config, name="generator_embeddings")
            self.generator = Encoder(gen_config, own, name="generator")
        self.generator_head = MaskedLMHead(
            gen_config, self.generator.embeddings, name="generator_head"
        )

    def set_unigram_counts(self, counts) -> None:
        """Sets the unigram generator from token counts (V,) of the training data."""
        if self.config.generator != "unigram":
            raise ValueError(f"the model's generator is {self.config.generator!r}, not 'unigram'")
        self.generator_head.set_logits(unigram_logits(counts, self.special_ids.values()))

    def generator_logits(self, masked_ids, input_mask, segment_ids, positions, training=None):
        """Generator logits (B, P, V) at positions (B, P) of the masked input (B, T)."""
        if self.generator is None:
            return self.generator_head(positions)
        hidden = self.generator(masked_ids, input_mask, segment_ids, training=training)
        return self.generator_head(gather_positions(hidden, positions))

    def discriminate(self, input_ids, input_mask, segment_ids, training=None):
        """Replaced-token logits (B, T) for input ids (B, T)."""
        hidden = self.discriminator(input_ids, input_mask, segment_ids, training=training)
        return self.discriminator_head(hidden)

    def mask(self, input_ids, input_mask):
        """Row keys (B,) uint32 and the MaskedBatch of int32 (B, T) ids, drawn from the seed state."""
        c, bert = self.config, self.config.objective == "mlm"
        special = (self.special_ids["pad"], self.special_ids["cls"], self.special_ids["sep"])
        keys = hash_random.row_keys(input_ids, self.seed_generator)
        masked = mask_tokens(
            input_ids,
            input_mask,
            special_ids=special,
            mask_id=self.special_ids["mask"],
            mask_rate=c.mask_rate,
            max_predictions=c.max_predictions_per_seq,
            mask_token_fraction=BERT_MASK_FRACTION if bert else c.mask_token_fraction,
            random_token_fraction=BERT_RANDOM_FRACTION if bert else 0.0,
            vocab_size=c.encoder.vocab_size,
            keys=keys,
        )
        return keys, masked

    def corrupt(self, input_ids, input_mask, keys, masked, mlm_logits):
        """Samples (B, P) from the generator's logits (B, P, V) at the masked positions and
        puts them in place: (sampled_ids, corrupted ids (B, T), labels (B, T) 1 = replaced)."""
        sample_keys = hash_random.random_bits(
            keys[:, None], masked.positions, hash_random.SAMPLE_KEYS
        )
        sampled = gumbel_max_sample(mlm_logits, self.config.temperature, sample_keys)
        corrupted, labels = replace_tokens(
            input_ids, input_mask, masked.positions, masked.weights, sampled
        )
        return sampled, corrupted, labels

    def call(self, features, training=None):
        c = self.config
        input_ids = ops.cast(features["input_ids"], "int32")
        input_mask = ops.cast(features["input_mask"], "int32")
        segment_ids = ops.cast(features["segment_ids"], "int32")
        keys, masked = self.mask(input_ids, input_mask)
        mlm_logits = self.generator_logits(
            masked.input_ids, input_mask, segment_ids, masked.positions, training=training
        )
        outputs = {
            "generator_input_ids": masked.input_ids,
            "mlm_positions": masked.positions,
            "mlm_targets": masked.targets,
            "mlm_weights": masked.weights,
            "mlm_logits": mlm_logits,
            "input_mask": input_mask,
        }
        if c.objective == "mlm":
            return outputs
        sampled, corrupted, labels = self.corrupt(input_ids, input_mask, keys, masked, mlm_logits)
        outputs.update(sampled_ids=sampled, disc_input_ids=corrupted, disc_labels=labels)
        hidden = self.discriminator(corrupted, input_mask, segment_ids, training=training)
        if c.objective == "replace_mlm":
            outputs.update(
                main_mlm_logits=self.discriminator_mlm_head(
                    gather_positions(hidden, masked.positions)
                ),
                main_mlm_targets=masked.targets,
                main_mlm_weights=masked.weights,
            )
            return outputs
        outputs["disc_logits"] = self.discriminator_head(hidden)
        if c.objective == "electra_15":
            length = ops.shape(input_ids)[1]
            outputs["disc_weights"] = positions_indicator(masked.positions, masked.weights, length)
        else:
            outputs["disc_weights"] = ops.cast(input_mask, "float32")
        if c.objective == "all_tokens_mlm":
            outputs.update(
                main_mlm_logits=self.discriminator_mlm_head(hidden),
                main_mlm_targets=input_ids,
                main_mlm_weights=ops.cast(input_mask, "float32"),
            )
        return outputs
