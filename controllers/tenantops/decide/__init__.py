"""The pure decision core: (snapshot, policies, prior state, now) -> plan. No I/O, no clock reads.

Import-linter (`.importlinter`) forbids this package from importing the edges or any I/O client.
"""
