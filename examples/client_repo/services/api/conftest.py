# The api imports the in-repo package `common` (a pyproject dependency): put both
# source dirs on sys.path, as an editable install would.
import sys
from pathlib import Path

here = Path(__file__).resolve().parent
sys.path[:0] = [str(here / "src"), str(here.parents[1] / "libs" / "common" / "src")]
