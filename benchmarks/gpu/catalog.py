"""Every row the GPU benchmark can measure, in priority order, with what each should cost."""

from __future__ import annotations

from dataclasses import dataclass

from benchmarks.gpu.plan import COSTS, Costs, Row

#: Wan2.2 A14B image-to-video hands the low-noise expert the last 10 % of the schedule.
WAN22_BOUNDARY = 0.9

#: Every working point runs i2v std 5 s unless a row says pro: 480p std, 720p pro.
FULL_STEPS = {"std": 30, "pro": 50}
FAST_STEPS = 4

#: The tiny network's working point: the test suite's, a few seconds a video on a CPU.
TINY_POINT = {
    "native_short_side": 32,
    "pro_short_side": 48,
    "native_fps": 4,
    "max_native_frames": 21,
    "segment_overlap": 5,
}

#: A worker's post-processing of one 5 s std clip (retime, resize, H.264), by network size.
_POST_S = {"tiny": 3.5, "1.3b": 5.5, "14b": 5.5}


@dataclass(frozen=True)
class Sizes:
    """Which network each part of the run builds: the published sizes, or the tiny test one."""

    small: str  # 1.3B's role: profiles, switches, whole tasks
    large: str  # 14B's role

    @classmethod
    def named(cls, arch: str) -> Sizes:
        return cls("tiny", "tiny") if arch == "tiny" else cls("1.3b", "14b")


def video_s(costs: Costs, mode: str, *, steps: int, passes: int) -> float:
    """One video's estimated seconds: the passes, and everything around them."""
    return costs.rest_s[mode] + steps * passes * costs.pass_s[mode]


def _engine(key: str, section: str, priority: int, arch: str, **params: object) -> Row:
    """An engine row: one video of ``mode`` and ``profile`` with one speed switch."""
    costs, mode = COSTS[arch], str(params["mode"])
    quality = params["profile"] == "quality"
    steps = int(params["steps"]) if quality else FAST_STEPS  # type: ignore[call-overload]
    estimate = video_s(costs, mode, steps=steps, passes=2 if quality else 1)
    if mode == "pro":
        estimate *= 2  # its own warm-up: new shapes
    if params["switch"] == "compile":
        estimate += costs.compile_s
    if params["switch"] == "fp8":
        estimate *= 2  # the quantization, and a warm-up of the new kernels
    return Row(key, section, priority, _label(params), estimate, {"arch": arch, **params})


def _label(params: dict[str, object]) -> str:
    profile = params["profile"]
    steps = f"{FAST_STEPS} steps" if profile == "fast" else f"{params['full_steps']} steps"
    switch = "" if params["switch"] == "none" else f", {params['switch']}"
    return f"engine: i2v {params['mode']} 5 s, {profile} ({steps}){switch}"


def _serve(key: str, priority: int, arch: str, tasks: int, *, overlap: bool, gpu: bool) -> Row:
    costs = COSTS[arch]
    task_s = video_s(costs, "std", steps=FAST_STEPS, passes=1) + _POST_S[arch]
    count = f"{tasks} task" + ("s" if tasks != 1 else "")
    what = f"kirin serve: {count}, overlap {'on' if overlap else 'off'}"
    if gpu:
        what += ", NVENC + GPU conform"
    params = {"arch": arch, "overlap": overlap, "gpu_media": gpu}
    return Row(key, "serve", priority, what, costs.server_s + (1 + tasks) * task_s, params)


def rows(arch: str, *, tasks: int, quality_steps: int) -> list[Row]:
    """The benchmark's rows, most important first (the plan drops from the end)."""
    sizes = Sizes.named(arch)
    small, large = sizes.small, sizes.large

    def engine(key: str, priority: int, mode: str, profile: str, switch: str = "none") -> Row:
        full = FULL_STEPS[mode] if profile == "quality" else FAST_STEPS
        steps = min(full, quality_steps) if quality_steps else full
        section = "engine" if not key.startswith("14b") else "engine-14b"
        size = small if section == "engine" else large
        return _engine(
            key, section, priority, size, mode=mode, profile=profile, switch=switch,
            steps=steps, full_steps=full, stands_for=_stands_for(arch, section),
        )  # fmt: skip

    prepare = COSTS[small]
    wan22 = {"stands_for": _stands_for(arch, "engine-wan22")}
    return [
        Row("prepare", "prepare", 1, f"a random {small} pipeline saved", prepare.save_s),
        Row("doctor", "doctor", 2, "kirin doctor", 1.0),
        engine("std-fast", 3, "std", "fast"),
        engine("std-quality", 4, "std", "quality"),
        engine("pro-fast", 5, "pro", "fast"),
        _serve("serve-overlap-on", 6, small, tasks, overlap=True, gpu=False),
        engine("std-fast-fp8", 7, "std", "fast", "fp8"),
        engine("14b-std-fast", 8, "std", "fast"),
        engine("std-fast-first-block", 9, "std", "fast", "first-block"),
        engine("std-fast-taylorseer", 10, "std", "fast", "taylorseer"),
        engine("std-fast-compile", 11, "std", "fast", "compile"),
        _serve("serve-overlap-off", 12, small, tasks, overlap=False, gpu=False),
        engine("14b-std-fast-fp8", 13, "std", "fast", "fp8"),
        engine("pro-quality", 14, "pro", "quality"),
        _serve("serve-gpu-media", 15, small, tasks, overlap=True, gpu=True),
        Row(
            "wan22-std-fast",
            "engine-wan22",
            16,
            "engine: i2v std 5 s, fast (4 steps), Wan2.2's two experts",
            2 * video_s(COSTS[large], "std", steps=FAST_STEPS, passes=1),
            {
                "arch": large,
                "mode": "std",
                "profile": "fast",
                "switch": "none",
                "steps": 4,
                "full_steps": 4,
                "boundary_ratio": WAN22_BOUNDARY,
                **wan22,
            },
        ),
    ]


def _stands_for(arch: str, section: str) -> str | None:
    """The published size a tiny network takes the place of, in the table."""
    if arch != "tiny":
        return None
    return "1.3b" if section == "engine" else "14b"


def section_starts(arch: str) -> dict[str, float]:
    """What starting each section costs before its first row: the process and the network."""
    sizes = Sizes.named(arch)
    small, large = COSTS[sizes.small], COSTS[sizes.large]
    warm_small = video_s(small, "std", steps=1, passes=1)
    warm_large = video_s(large, "std", steps=1, passes=1)
    return {
        "prepare": small.start_s + small.build_s,
        "doctor": small.start_s,
        "engine": small.start_s + small.build_s + warm_small,
        "serve": 2.0,
        "engine-14b": large.start_s + large.build_s + warm_large,
        "engine-wan22": large.start_s + 2 * large.build_s + warm_large,
    }
