"""Small immutable values passed between observe, decide, act and record.

They sit in their own package, importing nothing but the standard library (numpy for arrays of samples)
and the configuration's types, so that both the pure decision core and the I/O edges can share them
without either depending on the other (import-linter's `values-below-concerns` contract).
"""
