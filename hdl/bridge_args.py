"""Argument checks shared by the voting bridge and its parts (one message for each)."""

__all__ = []


def _is_int(value):
    return isinstance(value, int) and not isinstance(value, bool)


def _check_paths(paths):
    if paths not in (1, 2) or isinstance(paths, bool):
        raise TypeError(f"Path count must be 1 or 2, not {paths!r}")


def _check_timeout(timeout):
    if not _is_int(timeout) or not 2 <= timeout <= 0xFFFF:
        raise TypeError(f"Timeout must be an integer from 2 to 65535, not {timeout!r}")


def _check_range(what, value, minimum, maximum):
    if not _is_int(value) or not minimum <= value <= maximum:
        raise TypeError(f"{what} must be an integer from {minimum} to {maximum}, "
                        f"not {value!r}")


def _check_addr_width(addr_width):
    _check_range("Address width", addr_width, 9, 32)
