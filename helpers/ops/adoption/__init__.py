"""Adoption: adopt.sh's half in Python, keeping client files in sync with helpers'
templates, scaffolding runnable dirs, the setup report.

May import any ops folder.
"""
