"""Reliability under stress: overload of a real server (bench/overload.py) and its guard."""
