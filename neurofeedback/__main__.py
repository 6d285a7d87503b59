"""``python -m neurofeedback`` = the ``neurofeedback`` command."""

from neurofeedback.cli import main

if __name__ == "__main__":  # importing this module (e.g. by a tool that walks the package) runs nothing
    main()
