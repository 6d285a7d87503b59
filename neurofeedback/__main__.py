"""``python -m neurofeedback`` = the ``neurofeedback`` command."""

from neurofeedback.cli import main

main()
