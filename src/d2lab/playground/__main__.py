"""`python -m d2lab.playground …` runs the playground's Hydra entry point (d2lab.playground.run)."""

from d2lab.playground.run import main

main()
