"""ftvoter.boards (to come)."""
