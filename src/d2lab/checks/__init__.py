"""Every check of a config value, each refusal one paragraph that names the key, the value and what is valid.

`check_config` runs on the composed config before anything is built; d2lab's own classes check their own ranges
with `d2lab.checks.values`; `d2lab.checks.library_errors` rephrases what only a library can judge.
"""

from d2lab.checks.config import check_config

__all__ = ["check_config"]
