"""ftvoter.analysis (to come)."""
