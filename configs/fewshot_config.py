"""Prompt templates for evaluating a causal LM without fine-tuning (trainers.fewshot).

As in the GPT-3 paper (sec. 2, Fig. 2.1): an optional task description, k
demonstrations (each example followed by its answer), then the example to
classify; each class is scored by the model's likelihood of its answer text
(the verbaliser). Fields may use {text} and {text_b} (the first and second
text columns) and, in `answer`, {label} (the class's verbaliser).
"""
from __future__ import annotations

import dataclasses


@dataclasses.dataclass(frozen=True)
class PromptTemplate:
    description: str = ""  # before the demonstrations ("": none)
    example: str = "{text}\nAnswer:"  # one example's text
    answer: str = " {label}"  # what follows an example: its class's verbaliser
    separator: str = "\n\n"  # between the description and the demonstrations, and between demonstrations

    def __post_init__(self):
        if "{label}" not in self.answer:
            raise ValueError(f"template.answer must contain {{label}}, got {self.answer!r}")


TEMPLATES = {
    "default": PromptTemplate(),
    "sentiment": PromptTemplate(description="Is the sentiment of each review positive or negative?",
                                example="Review: {text}\nSentiment:", answer=" {label}"),
    "pair": PromptTemplate(example="{text}\nQuestion: {text_b}\nTrue or False?\nAnswer:", answer=" {label}"),
}
