"""Where outputs go: the local directory with signed URLs (S3-compatible buckets later)."""
