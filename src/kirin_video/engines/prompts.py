"""Prompt embeddings computed once per (prompt, negative prompt) and kept, bounded, in host memory.

The text encoder (UMT5-XXL for Wan: 5.7B parameters) costs a pass per prompt and per segment;
a repeated prompt, or the second segment of a long clip, takes its embeddings from here instead.
With ``KIRIN_TEXT_ENCODER_OFFLOAD`` the encoder lives in host memory and visits the GPU only to
encode a prompt that is not here.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import torch

#: (prompt, negative prompt or None where guidance is off)
Key = tuple[str, str | None]
Embeddings = tuple["torch.Tensor", "torch.Tensor | None"]


class PromptCache:
    """The last ``size`` prompts' embeddings, least recently used dropped first."""

    def __init__(self, size: int, *, offload_encoder: bool = False) -> None:
        self._size = size
        self._offload = offload_encoder
        self._entries: OrderedDict[Key, Embeddings] = OrderedDict()
        self.misses = 0  # prompts the text encoder ran for

    def __len__(self) -> int:
        return len(self._entries)

    def embeddings(self, pipe: Any, prompt: str, negative: str, *, guided: bool) -> Embeddings:
        """The prompt's (and, when ``guided``, the negative prompt's) embeddings on the device."""
        key: Key = (prompt, negative if guided else None)
        kept = self._entries.get(key)
        if kept is None:
            kept = self._encode(pipe, key)
            self._keep(key, kept)
        else:
            self._entries.move_to_end(key)
        device = pipe._execution_device
        positive, negative_embeds = kept
        moved = None if negative_embeds is None else negative_embeds.to(device)
        return positive.to(device), moved

    def _encode(self, pipe: Any, key: Key) -> Embeddings:
        self.misses += 1
        prompt, negative = key
        with self._encoder_on_device(pipe):
            positive, negative_embeds = pipe.encode_prompt(
                prompt=prompt,
                negative_prompt=negative or "",
                do_classifier_free_guidance=negative is not None,
                device=pipe._execution_device,
            )
        kept = None if negative_embeds is None else negative_embeds.to("cpu")
        return positive.to("cpu"), kept

    def _keep(self, key: Key, embeddings: Embeddings) -> None:
        if self._size == 0:
            return
        self._entries[key] = embeddings
        while len(self._entries) > self._size:
            self._entries.popitem(last=False)

    @contextmanager
    def _encoder_on_device(self, pipe: Any) -> Iterator[None]:
        """With offloading, move the text encoder to the GPU for one encoding, then back."""
        if not self._offload:
            yield
            return
        pipe.text_encoder.to(pipe._execution_device)
        try:
            yield
        finally:
            pipe.text_encoder.to("cpu")
