"""Live acquisition with BrainFlow (board names now; recorder, playback and recovery later)."""

from .boards import BoardInfo, board_info, list_boards, resolve_board

__all__ = ["BoardInfo", "board_info", "list_boards", "resolve_board"]
