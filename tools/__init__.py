"""Helpers behind the nox sessions of the PyTorch conda feedstock.

Each module is named after one domain concept and is importable and tested on its own; the
sessions in ``noxfile.py`` only parse arguments, call in here, and report.
"""
