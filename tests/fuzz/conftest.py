# tests/fuzz/ on sys.path, so tests in regressions/ can import fuzz_checks and programs.
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
