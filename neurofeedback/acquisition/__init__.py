"""Live acquisition with BrainFlow: connections, the recorder, playback and recovery.

Acquisition ends at its files (the BrainFlow CSV and its sidecar, converted to FIF); board
layouts live one layer down in :mod:`neurofeedback.boards`, shared with the readers in ``io``.
"""
