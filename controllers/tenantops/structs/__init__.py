"""Small immutable values passed between observe, decide, act and record.

They sit in their own package, importing nothing but the standard library, so that both the pure decision
core and the I/O edges can share them without either depending on the other.
"""
