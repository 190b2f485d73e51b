"""ELECTRA generator + discriminator with replaced token detection (paper, sec. 2),
and the paper's variants (sec. 3.1-3.2): weight sharing, fixed generators, the
BERT, ELECTRA 15%, Replace MLM and All-Tokens MLM objectives, adversarial
generator training; and the methods it is compared with or built beside:
ALBERT's sentence-order prediction and n-gram masking, DeBERTaV3's
gradient-disentangled embedding sharing.
"""

from __future__ import annotations

import keras
from keras import ops

from configs import ModelConfig
from models.adversarial import RewardBaseline
from models.embeddings import EmbeddingBlock, truncated_normal
from models.encoder import Encoder
from models import hash_random
from models.fixed_generators import FixedDistributionHead, unigram_logits
from models.gdes import DisentangledEmbeddings
from models.heads import MaskedLMHead, ReplacedTokenHead
from models.masking import (
    BERT_MASK_FRACTION,
    BERT_RANDOM_FRACTION,
    gather_positions,
    mask_tokens,
    positions_indicator,
)
from models.sampling import gumbel_max_sample, replace_tokens
from models.sentence_order import SentenceOrderHead, swap_draws, swap_segments, two_segment_rows
from models.span_masking import select_span_positions


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
        main_mlm_weights = input_mask (B, T);
      sentence_order: sop_logits (B, 2) from the kept model's (for mlm: the
        masked LM's) [CLS], sop_labels (B,) 1 = segments swapped, sop_weights
        (B,) 1 for two-segment rows; every other output is of the swapped input;
      adversarial generator training: sample_log_probs (B, P) log p_G of the
        samples (with gradient), baseline_logits (B, P).
    n-gram and whole-word masking read `word_continuation` (V,), a
    non-trainable weight set by `set_word_continuation` (kept in checkpoints).
    For objective "mlm" the masked LM is the discriminator-size encoder
    (`generator` is `discriminator`) and there is no discriminator head.
    With config.pooler, `pooler` is BERT's pooler (dense H + tanh, for the [CLS]
    vector (B, H)) of the kept encoder: not trainable here and unused by every
    objective, it is carried in checkpoints for fine-tuning (models.task_heads).
    Masking and sampling draw one word per call from `seed_generator`, whose
    state is a variable (it is saved in checkpoints, so a resumed run draws what
    the original would); each example's draws are hashes of that word, its ids
    and positions (models.hash_random), so they do not depend on how the batch
    is split across replicas. Dropout masks do depend on the split (models.dropout).
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
                embeddings = self.embeddings
                if config.sharing == "gdes":
                    embeddings = DisentangledEmbeddings(embeddings, name="discriminator_embeddings")
                self.discriminator = Encoder(disc_config, embeddings, name="discriminator")
            if config.objective != "replace_mlm":
                self.discriminator_head = ReplacedTokenHead(disc_config, name="discriminator_head")
            if config.objective in ("replace_mlm", "all_tokens_mlm"):
                self.discriminator_mlm_head = MaskedLMHead(
                    disc_config, self.discriminator.embeddings, name="discriminator_mlm_head"
                )
        if config.sentence_order:
            self.sentence_order_head = SentenceOrderHead(disc_config, name="sentence_order_head")
        if config.pooler:
            self.pooler = keras.layers.Dense(
                disc_config.hidden_size, activation="tanh", trainable=False, name="pooler",
                kernel_initializer=truncated_normal(disc_config.initializer_range),
            )
            self.pooler.build((None, disc_config.hidden_size))
        if config.generator_training == "adversarial":
            self.reward_baseline = RewardBaseline(name="reward_baseline")
        if config.masking != "token":
            self.word_continuation = self.add_weight(
                shape=(disc_config.vocab_size,),
                initializer="zeros",
                trainable=False,
                name="word_continuation",
            )
        self.seed_generator = keras.random.SeedGenerator(seed, name=hash_random.ROW_KEY_SEED)

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
        elif config.sharing in ("embeddings", "gdes"):
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

    def set_word_continuation(self, flags) -> None:
        """Sets the (V,) 1/0 flags of pieces that continue a word (models.word_boundaries)."""
        if self.config.masking == "token":
            raise ValueError("the model masks tokens; word boundaries are for whole_word/ngram masking")
        self.word_continuation.assign(ops.convert_to_tensor(flags, "float32"))

    def generator_outputs(self, masked_ids, input_mask, segment_ids, positions, training=None):
        """(hidden states (B, T, H), or None for a fixed distribution, and logits (B, P, V)
        at positions (B, P)) of the generator on the masked input (B, T)."""
        if self.generator is None:
            return None, self.generator_head(positions)
        hidden = self.generator(masked_ids, input_mask, segment_ids, training=training)
        return hidden, self.generator_head(gather_positions(hidden, positions))

    def generator_logits(self, masked_ids, input_mask, segment_ids, positions, training=None):
        """Generator logits (B, P, V) at positions (B, P) of the masked input (B, T)."""
        return self.generator_outputs(masked_ids, input_mask, segment_ids, positions, training)[1]

    def _select_spans(self, input_ids, input_mask, special, keys):
        """(positions, weights) of whole-word / n-gram masking, or None for token masking."""
        c = self.config
        if c.masking == "token":
            return None
        return select_span_positions(
            input_ids,
            input_mask,
            special_ids=special,
            continuation=self.word_continuation,
            mask_rate=c.mask_rate,
            max_predictions=c.max_predictions_per_seq,
            max_ngram=1 if c.masking == "whole_word" else c.max_ngram,
            keys=keys,
        )

    def discriminate(self, input_ids, input_mask, segment_ids, training=None):
        """Replaced-token logits (B, T) for input ids (B, T)."""
        hidden = self.discriminator(input_ids, input_mask, segment_ids, training=training)
        return self.discriminator_head(hidden)

    def mask(self, input_ids, input_mask, segment_ids):
        """Draws this call's row keys (B,) uint32 from the seed state, swaps the segments of
        the rows drawn for sentence order, and masks. Returns (keys, MaskedBatch, input_ids and
        segment_ids (B, T) after the swap, {"sop_labels", "sop_weights"} or {})."""
        c, bert = self.config, self.config.objective == "mlm"
        special = (self.special_ids["pad"], self.special_ids["cls"], self.special_ids["sep"])
        keys = hash_random.row_keys(input_ids, self.seed_generator)
        sop = {}
        if c.sentence_order:
            two_segments = two_segment_rows(segment_ids, input_mask)
            swap = swap_draws(keys) & two_segments
            input_ids, segment_ids = swap_segments(input_ids, segment_ids, input_mask, swap)
            sop = {"sop_labels": ops.cast(swap, "int32"), "sop_weights": ops.cast(two_segments, "float32")}
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
            selection=self._select_spans(input_ids, input_mask, special, keys),
        )
        return keys, masked, input_ids, segment_ids, sop

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
        keys, masked, input_ids, segment_ids, outputs = self.mask(input_ids, input_mask, segment_ids)
        generator_hidden, mlm_logits = self.generator_outputs(
            masked.input_ids, input_mask, segment_ids, masked.positions, training=training
        )
        outputs.update(
            generator_input_ids=masked.input_ids,
            mlm_positions=masked.positions,
            mlm_targets=masked.targets,
            mlm_weights=masked.weights,
            mlm_logits=mlm_logits,
            input_mask=input_mask,
        )
        if c.objective == "mlm":
            if c.sentence_order:
                outputs["sop_logits"] = self.sentence_order_head(generator_hidden)
            return outputs
        sampled, corrupted, labels = self.corrupt(input_ids, input_mask, keys, masked, mlm_logits)
        if c.generator_training == "adversarial":
            log_probs = ops.log_softmax(ops.cast(mlm_logits, "float32") / c.temperature, axis=-1)
            outputs.update(
                sample_log_probs=ops.squeeze(
                    ops.take_along_axis(log_probs, sampled[..., None], axis=-1), -1
                ),
                baseline_logits=self.reward_baseline(
                    gather_positions(generator_hidden, masked.positions)
                ),
            )
        outputs.update(sampled_ids=sampled, disc_input_ids=corrupted, disc_labels=labels)
        hidden = self.discriminator(corrupted, input_mask, segment_ids, training=training)
        if c.sentence_order:
            outputs["sop_logits"] = self.sentence_order_head(hidden)
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
