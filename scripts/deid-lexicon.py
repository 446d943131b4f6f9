#!/usr/bin/python3
"""deid-lexicon.py - write the de-identifier's dictionaries into OUT_DIR (being written)."""
import os
import sys

os.makedirs(sys.argv[1], exist_ok=True)
