"""``python -m neurofeedback.cli`` = the ``neurofeedback`` command."""

from neurofeedback.cli import main

main()
