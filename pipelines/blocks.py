"""A causal LM's examples: documents, each followed by the end-of-text token, cut into contiguous
blocks of T + 1 tokens (the model reads tokens 0..T-1 and predicts 1..T; keras-hub's causal-LM
preprocessor's x = tokens[:-1], y = tokens[1:]). No masking, no segments, no padding."""


class BlockStream:
    """One split's token stream within one work unit.

    Blocks never span work units, so the output does not depend on how units
    are spread over workers; what is left at the end of a unit (fewer than
    `block_length` tokens) is dropped and counted (`tail`).
    """

    def __init__(self, block_length: int, eos_id: int):
        self.block_length, self.eos_id = block_length, eos_id
        self._pending: list[int] = []

    def add(self, ids: list[int]) -> list[list[int]]:
        """Appends one document's ids and the end-of-text token; returns the blocks it completes."""
        self._pending += list(ids) + [self.eos_id]
        n = len(self._pending) // self.block_length * self.block_length
        blocks = [self._pending[i:i + self.block_length] for i in range(0, n, self.block_length)]
        del self._pending[:n]
        return blocks

    @property
    def tail(self) -> int:
        """Tokens waiting for a block: dropped if the unit ends here."""
        return len(self._pending)
