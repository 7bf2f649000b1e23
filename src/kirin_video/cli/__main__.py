"""`python -m kirin_video.cli`."""

from kirin_video.cli import main

main()
