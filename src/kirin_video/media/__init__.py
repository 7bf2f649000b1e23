"""Image intake, URL fetch, frame post-processing, watermarking and video encoding."""
