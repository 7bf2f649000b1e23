"""Wan VACE network sizes, and random-weight pipelines built from them without a download.

Tests save a ``tiny`` pipeline and load it through the same code as real weights; the engine
benchmark builds the real 1.3B and 14B networks to time them on a GPU without the checkpoint.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

#: Words the tiny tokenizer knows; any other word is one shared unknown token.
TINY_WORDS = (
    "a an the and of in on over under at to from with by into across through is are "
    "sun moon sky cloud clouds rain snow light dark morning evening night day dawn dusk "
    "valley river lake sea mountain hill forest tree trees field road city street house "
    "cat dog bird horse fish person man woman child people car boat train "
    "red orange yellow green blue purple white black grey gold silver "
    "walks runs flies swims rises sets moves turns falls grows glows shines drifts "
    "slow slowly fast quickly gently camera pans zooms close wide shot"
)

_SPECIAL = ("<pad>", "</s>", "<unk>")
_Z_DIM = 16  # latent channels: what the transformer's in_channels expect


@dataclass(frozen=True)
class Architecture:
    """Sizes of the four parts of a Wan VACE pipeline."""

    transformer: dict[str, Any]
    text_encoder: dict[str, Any]
    vae: dict[str, Any] = field(default_factory=dict)
    vocabulary: tuple[str, ...] = ()  # empty: the UMT5 vocabulary size with no real words
    flow_shift: float = 3.0


_WAN_TEXT = {
    "d_model": 4096,
    "d_kv": 64,
    "d_ff": 10240,
    "num_layers": 24,
    "num_heads": 64,
    "vocab_size": 256384,
    "relative_attention_num_buckets": 32,
    "relative_attention_max_distance": 128,
    "feed_forward_proj": "gated-gelu",
}

ARCHITECTURES: dict[str, Architecture] = {
    # A few layers of each part: seconds per video on a CPU.
    "tiny": Architecture(
        transformer={
            "num_attention_heads": 2,
            "attention_head_dim": 16,
            "text_dim": 32,
            "freq_dim": 32,
            "ffn_dim": 64,
            "num_layers": 2,
            "rope_max_seq_len": 64,
            "vace_layers": [0],
        },
        text_encoder={
            "d_model": 32,
            "d_kv": 8,
            "d_ff": 64,
            "num_layers": 2,
            "num_heads": 4,
            "relative_attention_num_buckets": 8,
            "feed_forward_proj": "gated-gelu",
        },
        vae={"base_dim": 8, "dim_mult": [1, 1, 1, 1], "num_res_blocks": 1},
        vocabulary=tuple(TINY_WORDS.split()),
    ),
    # Wan2.1-VACE-1.3B (diffusers format), from its published config.
    "1.3b": Architecture(
        transformer={
            "num_attention_heads": 12,
            "attention_head_dim": 128,
            "text_dim": 4096,
            "freq_dim": 256,
            "ffn_dim": 8960,
            "num_layers": 30,
            "vace_layers": list(range(0, 30, 2)),
        },
        text_encoder=_WAN_TEXT,
    ),
    # Wan2.1-VACE-14B (diffusers format), from its published config.
    "14b": Architecture(
        transformer={
            "num_attention_heads": 40,
            "attention_head_dim": 128,
            "text_dim": 4096,
            "freq_dim": 256,
            "ffn_dim": 13824,
            "num_layers": 40,
            "vace_layers": list(range(0, 40, 5)),
        },
        text_encoder=_WAN_TEXT,
        flow_shift=5.0,
    ),
}


def build_random_pipeline(name: str, *, seed: int = 0, boundary_ratio: float | None = None) -> Any:
    """A WanVACEPipeline of the named architecture with random weights, on the default device.

    With ``boundary_ratio`` it has Wan2.2's two experts: ``transformer`` denoises the timesteps
    at or above ``boundary_ratio`` of the schedule, a second ``transformer_2`` the rest.
    """
    import torch
    from diffusers import (
        AutoencoderKLWan,
        UniPCMultistepScheduler,
        WanVACEPipeline,
        WanVACETransformer3DModel,
    )
    from transformers import UMT5Config, UMT5EncoderModel

    arch = ARCHITECTURES[name]
    torch.manual_seed(seed)
    tokenizer = word_tokenizer(arch.vocabulary)
    text_config = {"vocab_size": len(tokenizer), **arch.text_encoder}
    return WanVACEPipeline(
        tokenizer=tokenizer,
        text_encoder=UMT5EncoderModel(UMT5Config(**text_config)),
        transformer=WanVACETransformer3DModel(**arch.transformer),
        transformer_2=(
            None if boundary_ratio is None else WanVACETransformer3DModel(**arch.transformer)
        ),
        boundary_ratio=boundary_ratio,
        vae=AutoencoderKLWan(z_dim=_Z_DIM, **arch.vae),
        scheduler=UniPCMultistepScheduler(
            prediction_type="flow_prediction", use_flow_sigmas=True, flow_shift=arch.flow_shift
        ),
    )


def word_tokenizer(vocabulary: tuple[str, ...]) -> Any:
    """A word-level tokenizer (lower-cased, split on whitespace and punctuation, ``</s>`` last)."""
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, processors
    from transformers import PreTrainedTokenizerFast

    vocab = {token: index for index, token in enumerate((*_SPECIAL, *vocabulary))}
    tokenizer = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    tokenizer.normalizer = normalizers.Lowercase()
    tokenizer.pre_tokenizer = pre_tokenizers.Whitespace()
    tokenizer.post_processor = processors.TemplateProcessing(
        single="$A </s>", special_tokens=[("</s>", vocab["</s>"])]
    )
    return PreTrainedTokenizerFast(
        tokenizer_object=tokenizer, pad_token="<pad>", eos_token="</s>", unk_token="<unk>"
    )
